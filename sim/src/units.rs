//! Values with units in scenario files: durations (`"60s"`, `"1.5ms"`, `"250us"`), sizes
//! (`"64GiB"`, `"4KiB"`, `"500MB"`) and bandwidths (`"200MB/s"`).

use std::fmt;

use model::time::Duration;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Parses a decimal number times a unit into whole units of the smallest kind: `"1.5"` with
/// `scale` 1000 gives 1500. Errors if the value is not whole in the smallest unit.
fn scaled(number: &str, scale: u64) -> Result<u64, String> {
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if !number.chars().any(|c| c.is_ascii_digit()) {
        return Err("no number".into());
    }
    if !int.chars().all(|c| c.is_ascii_digit() || c == '_')
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(format!("`{number}` is not a decimal number"));
    }
    let int: String = int.chars().filter(|c| *c != '_').collect();
    let int: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| "number too large")?
    };
    let mut value = int.checked_mul(scale).ok_or("number too large")?;
    if !frac.is_empty() {
        if frac.len() > 18 {
            return Err(format!("`{number}` has too many decimals"));
        }
        let num: u128 = frac.parse().map_err(|_| "bad decimals")?;
        let denom = 10u128.pow(frac.len() as u32);
        let part = num * scale as u128;
        if part % denom != 0 {
            return Err(format!(
                "`{number}` is not a whole number of the smallest unit"
            ));
        }
        value = value
            .checked_add((part / denom) as u64)
            .ok_or("number too large")?;
    }
    Ok(value)
}

fn split_unit(s: &str) -> (&str, &str) {
    let i = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    (s[..i].trim(), s[i..].trim())
}

/// The longest duration a scenario (or `--at`) may give: 2^62 µs, about 146 000 years. A
/// virtual time plus two durations (a burst's on and off periods, a start and a deadline, a time
/// and a timeout) then never overflows the 64-bit microsecond clock. One of
/// `crate::scenario::limits`.
pub const MAX_DURATION_US: u64 = 1 << 62;

/// Parses a duration: a number and one of `us`, `ms`, `s`, `min`, `h`, at most
/// [`MAX_DURATION_US`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s.trim_start().starts_with('-') {
        return Err(format!(
            "duration `{s}` is negative; virtual time only moves forward"
        ));
    }
    let (num, unit) = split_unit(s.trim());
    let scale = match unit {
        "us" | "µs" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "min" | "m" => 60_000_000,
        "h" => 3_600_000_000,
        "" => {
            return Err(format!(
                "duration `{s}` has no unit; write it like \"60s\", \"1.5ms\" or \"250us\""
            ));
        }
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{s}`; use us, ms, s, min or h"
            ));
        }
    };
    let us = scaled(num, scale).map_err(|e| format!("bad duration `{s}`: {e}"))?;
    if us > MAX_DURATION_US {
        return Err(format!(
            "duration `{s}` is more than the limit of {MAX_DURATION_US}us (MAX_DURATION_US: \
             about 146 000 years, so that a time plus two durations stays within the 64-bit \
             clock; see \"Scenario limits\" in README.md)"
        ));
    }
    Ok(Duration::from_us(us))
}

/// Parses a size in bytes: `B`, `KiB`/`MiB`/`GiB`/`TiB` (1024-based) or `KB`/`MB`/`GB`/`TB`
/// (1000-based).
pub fn parse_size(s: &str) -> Result<u64, String> {
    if s.trim_start().starts_with('-') {
        return Err(format!("size `{s}` is negative"));
    }
    let (num, unit) = split_unit(s.trim());
    let scale: u64 = match unit {
        "B" | "" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}`; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB"
            ));
        }
    };
    scaled(num, scale).map_err(|e| format!("bad size `{s}`: {e}"))
}

/// A duration in the canonical spelling of scenario files: the largest of `h`, `min`, `s`,
/// `ms`, `us` that holds it whole (`"1h"`, `"90s"`, `"1500us"`, `"0us"`).
pub fn format_duration(d: Duration) -> String {
    let us = d.as_us();
    let units: [(u64, &str); 4] = [
        (3_600_000_000, "h"),
        (60_000_000, "min"),
        (1_000_000, "s"),
        (1_000, "ms"),
    ];
    match units.iter().find(|(scale, _)| us != 0 && us % scale == 0) {
        Some((scale, unit)) => format!("{}{unit}", us / scale),
        None => format!("{us}us"),
    }
}

/// A size in the canonical spelling of scenario files: the unit that holds it whole with the
/// smallest number, 1024-based first (`"4KiB"`, `"64GiB"`, `"500MB"`, `"1000B"` is `"1KB"`).
pub fn format_size(bytes: u64) -> String {
    let units: [(u64, &str); 8] = [
        (1 << 40, "TiB"),
        (1_000_000_000_000, "TB"),
        (1 << 30, "GiB"),
        (1_000_000_000, "GB"),
        (1 << 20, "MiB"),
        (1_000_000, "MB"),
        (1 << 10, "KiB"),
        (1_000, "KB"),
    ];
    match units
        .iter()
        .find(|(scale, _)| bytes != 0 && bytes % scale == 0)
    {
        Some((scale, unit)) => format!("{}{unit}", bytes / scale),
        None => format!("{bytes}B"),
    }
}

/// A bandwidth in the canonical spelling: a size per second (`"200MB/s"`).
pub fn format_bandwidth(bytes_per_second: u64) -> String {
    format!("{}/s", format_size(bytes_per_second))
}

/// A duration in a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

/// A size in bytes in a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

/// Bytes per second, written `"200MB/s"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bandwidth(pub u64);

macro_rules! string_value {
    ($ty:ident, $what:literal, $parse:expr, $show:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$ty, E> {
                        $parse(s).map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        Err(E::custom(format!(
                            "expected {}, found the bare number {v}",
                            $what
                        )))
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
                        Err(E::custom(format!(
                            "expected {}, found the bare number {v}",
                            $what
                        )))
                    }
                }
                d.deserialize_any(V)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&$show(self))
            }
        }
    };
}

string_value!(
    Dur,
    "a duration with a unit, like \"60s\", \"1.5ms\" or \"250us\"",
    |s: &str| parse_duration(s).map(Dur),
    |d: &Dur| format_duration(d.0)
);
string_value!(
    Size,
    "a size with a unit, like \"64GiB\" or \"4KiB\"",
    |s: &str| parse_size(s).map(Size),
    |d: &Size| format_size(d.0)
);
string_value!(
    Bandwidth,
    "a bandwidth like \"200MB/s\"",
    |s: &str| {
        let Some(size) = s.trim().strip_suffix("/s") else {
            return Err(format!("bandwidth `{s}` must end in /s, like \"200MB/s\""));
        };
        match parse_size(size)? {
            0 => Err(format!("bandwidth `{s}` must be above zero")),
            b => Ok(Bandwidth(b)),
        }
    },
    |d: &Bandwidth| format_bandwidth(d.0)
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("1.5ms").unwrap(), Duration::from_us(1500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_us(250));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(
            parse_duration("12.5s").unwrap(),
            Duration::from_us(12_500_000)
        );
        assert!(parse_duration("60").is_err());
        assert!(parse_duration("0.5us").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("x s").is_err());
    }

    #[test]
    fn canonical_spellings_parse_back() {
        for us in [
            0,
            1,
            999,
            1_000,
            1_500,
            60_000_000,
            90_000_000,
            3_600_000_000,
            7_200_000_001,
        ] {
            let d = Duration::from_us(us);
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d, "{us} us");
        }
        assert_eq!(format_duration(Duration::from_secs(600)), "10min");
        assert_eq!(format_duration(Duration::from_us(1_500)), "1500us");
        for b in [
            0,
            1,
            1_000,
            1_024,
            4_096,
            500_000_000,
            64 << 30,
            (1 << 40) + 1,
        ] {
            assert_eq!(parse_size(&format_size(b)).unwrap(), b, "{b} bytes");
        }
        assert_eq!(format_size(64 << 30), "64GiB");
        assert_eq!(format_size(200_000_000), "200MB");
        assert_eq!(format_bandwidth(200_000_000), "200MB/s");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("1TiB").unwrap(), 1 << 40);
        assert_eq!(parse_size("200MB").unwrap(), 200_000_000);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert!(parse_size("3 furlongs").is_err());
    }
}
