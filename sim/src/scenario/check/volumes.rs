//! `[[volume]]`: names, sizes, block sizes and diff areas; and references to volumes by name.

use std::collections::BTreeMap;

use toml::Spanned;

use super::super::ctx::Ctx;
use super::super::limits::{MAX_VOLUME_BYTES, MAX_VOLUME_REFS, MAX_VOLUMES};
use super::super::raw::RawVolume;
use super::super::suggest::did_you_mean;
use super::super::{ScenarioError, VolumeSpec, canonical_volume};
use super::within;

/// The declared volumes and their index by canonical name (built once: a reference costs a
/// lookup, not a scan of every volume).
pub(super) struct Volumes<'a> {
    /// The volumes in declaration order.
    pub(super) specs: &'a [VolumeSpec],
    by_name: BTreeMap<&'a str, usize>,
}

impl<'a> Volumes<'a> {
    pub(super) fn new(specs: &'a [VolumeSpec]) -> Volumes<'a> {
        let mut by_name = BTreeMap::new();
        for (i, v) in specs.iter().enumerate() {
            by_name.entry(v.name.as_str()).or_insert(i);
        }
        Volumes { specs, by_name }
    }

    /// The index of the volume `name` (any spelling) names.
    pub(super) fn find(&self, name: &str) -> Option<usize> {
        self.by_name.get(canonical_volume(name).as_str()).copied()
    }

    pub(super) fn len(&self) -> usize {
        self.specs.len()
    }
}

/// Checks the declared volumes: at least one, unique names, power-of-two blocks.
pub(super) fn volumes(cx: &Ctx<'_>, raw: &[RawVolume]) -> Result<Vec<VolumeSpec>, ScenarioError> {
    within(
        cx,
        raw.len(),
        MAX_VOLUMES,
        "volume",
        "[[volume]] tables",
        "MAX_VOLUMES",
        || raw.get(MAX_VOLUMES).map(|v| v.name.span()),
    )?;
    let mut volumes: Vec<VolumeSpec> = Vec::with_capacity(raw.len());
    let mut seen = std::collections::BTreeSet::new();
    for (i, v) in raw.iter().enumerate() {
        let key = format!("volume[{i}].name");
        if v.name.get_ref().trim().is_empty() {
            return Err(cx.at(
                v.name.span(),
                &key,
                "a volume needs a name, like \"C:\" or \"D:\\\\Mount\\\\\"".into(),
            ));
        }
        let name = canonical_volume(v.name.get_ref());
        if !seen.insert(name.clone()) {
            return Err(cx.at(
                v.name.span(),
                &key,
                format!("volume {name} is declared twice"),
            ));
        }
        let block_size = v.block_size.as_ref().map(|s| s.get_ref().0).unwrap_or(4096);
        if block_size == 0 || block_size > u32::MAX as u64 || !block_size.is_power_of_two() {
            let span = v
                .block_size
                .as_ref()
                .map(|s| s.span())
                .unwrap_or(v.name.span());
            return Err(cx.at(
                span,
                &format!("volume[{i}].block_size"),
                format!("block size {block_size} must be a power of two, like \"4KiB\""),
            ));
        }
        if v.size.get_ref().0 > MAX_VOLUME_BYTES {
            return Err(cx.at(
                v.size.span(),
                &format!("volume[{i}].size"),
                format!(
                    "{} bytes is more than the limit of 64TiB (MAX_VOLUME_BYTES: Microsoft's \
                     documented maximum volume size for VSS; {})",
                    v.size.get_ref().0,
                    super::super::limits::SEE
                ),
            ));
        }
        if v.size.get_ref().0 < block_size {
            return Err(cx.at(
                v.size.span(),
                &format!("volume[{i}].size"),
                "volume is smaller than one block".into(),
            ));
        }
        let diff_area = match v
            .diff_area
            .as_ref()
            .map(|s| (s.get_ref().as_str(), s.span()))
        {
            None | Some(("UNBOUNDED", _)) => None,
            Some((s, span)) => Some(crate::units::parse_size(s).map_err(|e| {
                cx.at(
                    span,
                    &format!("volume[{i}].diff_area"),
                    format!("{e}; or write \"UNBOUNDED\""),
                )
            })?),
        };
        volumes.push(VolumeSpec {
            name,
            bytes: v.size.get_ref().0,
            block_size: block_size as u32,
            diff_area,
            removable: v.removable.unwrap_or(false),
        });
    }
    if volumes.is_empty() {
        return Err(ScenarioError {
            file: cx.file.to_string(),
            line: 0,
            column: 0,
            key: "volume".into(),
            message: "the scenario declares no volume; add a [[volume]] table with name and size"
                .into(),
        });
    }
    Ok(volumes)
}

/// The index of the declared volume `s` names, or an error with the closest declared names.
pub(super) fn vol_ref(
    cx: &Ctx<'_>,
    volumes: &Volumes<'_>,
    s: &Spanned<String>,
    key: &str,
) -> Result<usize, ScenarioError> {
    volumes.find(s.get_ref()).ok_or_else(|| {
        let name = canonical_volume(s.get_ref());
        cx.at(
            s.span(),
            key,
            format!(
                "no volume named {name}; {}",
                did_you_mean(&name, volumes.specs.iter().map(|v| v.name.as_str()))
            ),
        )
    })
}

/// The indices of the declared volumes a `volumes` list names, at most [`MAX_VOLUME_REFS`].
pub(super) fn vol_refs(
    cx: &Ctx<'_>,
    volumes: &Volumes<'_>,
    list: &[Spanned<String>],
    key: &str,
) -> Result<Vec<usize>, ScenarioError> {
    within(
        cx,
        list.len(),
        MAX_VOLUME_REFS,
        key,
        "volume names",
        "MAX_VOLUME_REFS",
        || list.get(MAX_VOLUME_REFS).map(|s| s.span()),
    )?;
    list.iter().map(|s| vol_ref(cx, volumes, s, key)).collect()
}
