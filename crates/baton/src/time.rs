//! Times and dates as the vault records them: RFC 3339 UTC, seconds precision.

/// The current time as RFC 3339, seconds precision, UTC.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Today's date (UTC), `YYYY-MM-DD`.
pub fn today() -> String {
    now()[..10].to_string()
}

/// Adds calendar months to an RFC 3339 UTC time (`YYYY-MM-DDThh:mm:ssZ`), keeping the
/// time of day and clamping the day to the month's length (Jan 31 + 1 month = Feb 28/29).
pub fn add_months(rfc3339: &str, months: u32) -> Option<String> {
    let t: std::time::SystemTime = humantime::parse_rfc3339_weak(rfc3339).ok()?;
    let s = humantime::format_rfc3339_seconds(t).to_string();
    let (y, rest) = s.split_at(4);
    let y: i64 = y.parse().ok()?;
    let m: i64 = rest.get(1..3)?.parse().ok()?;
    let d: u32 = rest.get(4..6)?.parse().ok()?;
    let total = y * 12 + (m - 1) + i64::from(months);
    let (ny, nm) = (total / 12, total % 12 + 1);
    let leap = (ny % 4 == 0 && ny % 100 != 0) || ny % 400 == 0;
    let days = match nm {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(0..=9999).contains(&ny) {
        return None;
    }
    Some(format!(
        "{ny:04}-{nm:02}-{:02}{}",
        d.min(days),
        rest.get(6..)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_calendar_months() {
        assert_eq!(
            add_months("2026-01-31T10:00:00Z", 1).as_deref(),
            Some("2026-02-28T10:00:00Z")
        );
        assert_eq!(
            add_months("2027-02-28T00:00:01Z", 12).as_deref(),
            Some("2028-02-28T00:00:01Z")
        );
        assert_eq!(
            add_months("2028-01-30T23:59:59Z", 1).as_deref(),
            Some("2028-02-29T23:59:59Z")
        );
        assert_eq!(
            add_months("2026-11-27T02:00:00Z", 14).as_deref(),
            Some("2028-01-27T02:00:00Z")
        );
        assert_eq!(add_months("not a date", 1), None);
    }
}
