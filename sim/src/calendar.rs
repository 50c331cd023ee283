//! Dates with no date crate: the civil-from-days / days-from-civil algorithms (H. Hinnant),
//! the scenario's `[machine] epoch` in RFC 3339 and the en-US form vssadmin prints (rule 29b).

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d`.
pub const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(y, m, d)` of `days` since 1970-01-01.
pub const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

const fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

/// Seconds since 1970-01-01T00:00:00Z of an RFC 3339 UTC time written
/// `YYYY-MM-DDTHH:MM:SSZ` (the scenario's `[machine] epoch`). No fraction, no offset other than
/// `Z`; `T` and `Z` may be lower case, as RFC 3339 allows.
pub fn epoch_secs(s: &str) -> Result<i64, String> {
    let bad = |why: &str| {
        format!(
            "epoch `{s}` {why}; write it as YYYY-MM-DDTHH:MM:SSZ, e.g. \"2024-01-01T00:00:00Z\""
        )
    };
    let b = s.as_bytes();
    if b.len() != 20 {
        return Err(bad("is not 20 characters long"));
    }
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c)
        || !matches!(b[10], b'T' | b't')
        || !matches!(b[19], b'Z' | b'z')
    {
        return Err(bad("is not in UTC RFC 3339 form"));
    }
    let num = |from: usize, to: usize| -> Result<i64, String> {
        let part = &s[from..to];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse::<i64>().map_err(|_| bad("has a bad number"))
        } else {
            Err(bad(&format!("has `{part}` where digits belong")))
        }
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) {
        return Err(bad("has a month outside 01-12"));
    }
    if d < 1 || d > i64::from(days_in_month(y, mo as u32)) {
        return Err(bad("has a day that month does not have"));
    }
    if h > 23 || mi > 59 || se > 59 {
        return Err(bad("has a time outside 00:00:00-23:59:59"));
    }
    Ok(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se)
}

/// en-US short date and long time of `secs` since 1970-01-01T00:00:00Z:
/// `M/D/YYYY h:mm:ss AM` (no leading zero on month, day or hour; 12 AM at midnight, 12 PM at
/// noon), e.g. `5/31/2022 1:45:05 PM`.
pub fn format_datetime(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (h24, mi, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
    let ampm = if h24 < 12 { "AM" } else { "PM" };
    let h12 = match h24 % 12 {
        0 => 12,
        h => h,
    };
    format!("{m}/{d}/{y:04} {h12}:{mi:02}:{s:02} {ampm}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_parses_and_rejects() {
        assert_eq!(epoch_secs("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(epoch_secs("2024-01-01T00:00:00Z"), Ok(1_704_067_200));
        assert_eq!(epoch_secs("2022-05-31T13:45:05Z"), Ok(1_654_004_705));
        assert_eq!(epoch_secs("2000-02-29t12:00:00z"), Ok(951_825_600));
        for bad in [
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00+01:00",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z",
            "2024-01-01 00:00:00Z",
            "2024-0a-01T00:00:00Z",
            "+024-01-01T00:00:00Z",
        ] {
            assert!(epoch_secs(bad).is_err(), "{bad} accepted");
        }
        assert!(epoch_secs("2024-02-29T00:00:00Z").is_ok());
        assert!(epoch_secs("2000-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn dates_print_en_us() {
        let e = epoch_secs("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(format_datetime(e), "1/1/2024 12:00:00 AM");
        assert_eq!(format_datetime(e + 12 * 3600), "1/1/2024 12:00:00 PM");
        assert_eq!(format_datetime(e + 12 * 3600 - 1), "1/1/2024 11:59:59 AM");
        assert_eq!(format_datetime(e + 3600 + 1), "1/1/2024 1:00:01 AM");
        assert_eq!(format_datetime(e + 86_400 - 1), "1/1/2024 11:59:59 PM");
        assert_eq!(format_datetime(0), "1/1/1970 12:00:00 AM");
        assert_eq!(format_datetime(1_654_004_705), "5/31/2022 1:45:05 PM");
        assert_eq!(
            format_datetime(epoch_secs("2019-09-09T03:10:57Z").unwrap()),
            "9/9/2019 3:10:57 AM"
        );
        assert_eq!(
            format_datetime(epoch_secs("2021-12-31T23:59:59Z").unwrap() + 1),
            "1/1/2022 12:00:00 AM"
        );
    }

    #[test]
    fn leap_years_by_epoch_arithmetic() {
        // 2024 is a leap year: Feb 28 + 1 day is Feb 29, + 2 days is Mar 1.
        let feb28 = epoch_secs("2024-02-28T10:00:00Z").unwrap();
        assert_eq!(format_datetime(feb28 + 86_400), "2/29/2024 10:00:00 AM");
        assert_eq!(format_datetime(feb28 + 2 * 86_400), "3/1/2024 10:00:00 AM");
        // 2100 is not (divisible by 100), 2000 is (divisible by 400).
        let feb28 = epoch_secs("2100-02-28T00:00:00Z").unwrap();
        assert_eq!(format_datetime(feb28 + 86_400), "3/1/2100 12:00:00 AM");
        let feb28 = epoch_secs("2000-02-28T00:00:00Z").unwrap();
        assert_eq!(format_datetime(feb28 + 86_400), "2/29/2000 12:00:00 AM");
        // A whole leap year is 366 days.
        let y24 = epoch_secs("2024-01-01T00:00:00Z").unwrap();
        let y25 = epoch_secs("2025-01-01T00:00:00Z").unwrap();
        assert_eq!((y25 - y24) / 86_400, 366);
        // Round trip over four centuries, both directions of 1970.
        for days in (-200_000..200_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(format_datetime(-1), "12/31/1969 11:59:59 PM");
    }
}
