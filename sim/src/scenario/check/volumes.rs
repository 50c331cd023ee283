//! `[[volume]]`: names, sizes, block sizes and diff areas; and references to volumes by name.

use toml::Spanned;

use super::super::ctx::Ctx;
use super::super::raw::RawVolume;
use super::super::{ScenarioError, VolumeSpec, canonical_volume};

/// Checks the declared volumes: at least one, unique names, power-of-two blocks.
pub(super) fn volumes(cx: &Ctx<'_>, raw: &[RawVolume]) -> Result<Vec<VolumeSpec>, ScenarioError> {
    let mut volumes: Vec<VolumeSpec> = Vec::new();
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
        if volumes.iter().any(|x| x.name == name) {
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
            key: "volume".into(),
            message: "the scenario declares no volume; add a [[volume]] table with name and size"
                .into(),
        });
    }
    Ok(volumes)
}

/// The index of the declared volume `s` names, or an error listing the declared ones.
pub(super) fn vol_ref(
    cx: &Ctx<'_>,
    volumes: &[VolumeSpec],
    s: &Spanned<String>,
    key: &str,
) -> Result<usize, ScenarioError> {
    let name = canonical_volume(s.get_ref());
    volumes.iter().position(|v| v.name == name).ok_or_else(|| {
        let known: Vec<&str> = volumes.iter().map(|v| v.name.as_str()).collect();
        cx.at(
            s.span(),
            key,
            format!("no volume named {name}; declared: {}", known.join(", ")),
        )
    })
}
