//! Relative time in a query: "yesterday", "last week", "3 days ago", "in May", "in 2022".
//!
//! [`parse`] turns the first time expression it understands into a [`TimeRange`] measured from
//! the recall's "now" (so an imported history can be asked about as of a past date). Ranking
//! lifts memories said, or about something, inside the range; nothing is filtered out, since a
//! user's "last week" is loose. Pure: no clock is read here.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

use crate::text::MONTHS;

/// A half-open time range `[start, end)` named by a phrase of the query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TimeRange {
    /// Inclusive start.
    pub(crate) start: DateTime<Utc>,
    /// Exclusive end.
    pub(crate) end: DateTime<Utc>,
    /// The words it came from, as written in the query (lower-cased).
    pub(crate) phrase: String,
}

impl TimeRange {
    /// Whether `t` falls inside.
    pub(crate) fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

fn day(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn month_start(year: i32, month: u32) -> Option<DateTime<Utc>> {
    NaiveDate::from_ymd_opt(year, month, 1).map(day)
}

fn month_range(year: i32, month: u32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    Some((month_start(year, month)?, month_start(ny, nm)?))
}

fn year_range(year: i32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    Some((month_start(year, 1)?, month_start(year + 1, 1)?))
}

fn number(word: &str) -> Option<i64> {
    const WORDS: [&str; 13] =
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
    match word {
        "a" | "an" => Some(1),
        "couple" => Some(2),
        "few" | "several" => Some(3),
        w => w
            .parse()
            .ok()
            .filter(|n| (0..=10_000).contains(n))
            .or_else(|| WORDS.iter().position(|x| *x == w).map(|i| i as i64)),
    }
}

/// The first relative time expression of `query`, measured from `now`. `None` also when `now`
/// lies outside the years 1 to 9999 (an `as_of` at the edge of the calendar has no "last week").
pub(crate) fn parse(query: &str, now: DateTime<Utc>) -> Option<TimeRange> {
    if !(1..=9999).contains(&now.year()) {
        return None;
    }
    let mut words: Vec<String> = crate::text::words(query).collect();
    // "a couple of weeks ago" reads as "couple weeks ago".
    for i in (1..words.len()).rev() {
        if words[i] == "of" && matches!(words[i - 1].as_str(), "couple" | "few") {
            words.remove(i);
        }
    }
    let today = day(now.date_naive());
    let w = |i: usize| words.get(i).map_or("", String::as_str);
    for i in 0..words.len() {
        let range = match (w(i), w(i + 1)) {
            ("yesterday", _) => Some((today - Duration::days(1), today, 1)),
            ("today" | "tonight", _) => Some((today, today + Duration::days(1), 1)),
            ("recently" | "lately", _) => Some((today - Duration::days(30), today + Duration::days(1), 1)),
            ("last" | "past" | "previous", "week") => Some((today - Duration::days(14), today + Duration::days(1), 2)),
            ("this", "week") => Some((today - Duration::days(7), today + Duration::days(1), 2)),
            ("last", "weekend") => {
                let back = i64::from(now.weekday().num_days_from_monday()) + 2; // days since last Saturday
                let saturday =
                    today - Duration::days(if now.weekday() == Weekday::Sat { 7 } else { back.rem_euclid(7).max(1) });
                Some((saturday, saturday + Duration::days(2), 2))
            }
            ("last" | "past" | "previous", "month") => {
                let (y, m) = if now.month() == 1 { (now.year() - 1, 12) } else { (now.year(), now.month() - 1) };
                month_range(y, m).map(|(s, e)| (s, e, 2))
            }
            ("this", "month") => month_range(now.year(), now.month()).map(|(s, e)| (s, e, 2)),
            ("last" | "past" | "previous", "year") => year_range(now.year() - 1).map(|(s, e)| (s, e, 2)),
            ("this", "year") => year_range(now.year()).map(|(s, e)| (s, e, 2)),
            ("in" | "during" | "since" | "last" | "this" | "of", m) if MONTHS.contains(&m) => {
                let month = MONTHS.iter().position(|x| *x == m).unwrap_or(0) as u32 + 1;
                let year = match w(i + 2).parse::<i32>() {
                    Ok(y) if (1000..=9999).contains(&y) => y,
                    _ if month > now.month() || (w(i) == "last" && month == now.month()) => now.year() - 1,
                    _ => now.year(),
                };
                month_range(year, month).map(|(s, e)| (s, e, 2))
            }
            ("in" | "during" | "since", y)
                if y.len() == 4 && y.parse::<i32>().is_ok_and(|y| (1000..=9999).contains(&y)) =>
            {
                year_range(y.parse().unwrap_or(0)).map(|(s, e)| (s, e, 2))
            }
            (n, unit) if w(i + 2) == "ago" => number(n).and_then(|count| {
                let days = match unit.trim_end_matches('s') {
                    "day" => 1,
                    "week" => 7,
                    "month" => 30,
                    "year" => 365,
                    _ => return None,
                };
                let centre = today - Duration::days(count * days);
                let slack = Duration::days((days / 2).max(1));
                Some((centre - slack, centre + slack + Duration::days(1), 3))
            }),
            _ => None,
        };
        if let Some((start, end, len)) = range {
            return Some(TimeRange { start, end, phrase: words[i..(i + len).min(words.len())].join(" ") });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn range(q: &str) -> Option<(String, String, String)> {
        parse(q, at("2023-06-14T15:00:00Z"))
            .map(|r| (r.start.format("%Y-%m-%d").to_string(), r.end.format("%Y-%m-%d").to_string(), r.phrase))
    }

    #[test]
    fn understands_common_phrases() {
        // 2023-06-14 is a Wednesday.
        let cases = [
            ("what did I do yesterday?", ("2023-06-13", "2023-06-14", "yesterday")),
            ("where did we go last week", ("2023-05-31", "2023-06-15", "last week")),
            ("the concert last weekend", ("2023-06-10", "2023-06-12", "last weekend")),
            ("what happened last month", ("2023-05-01", "2023-06-01", "last month")),
            ("my trip in May", ("2023-05-01", "2023-06-01", "in may")),
            ("my trip in September", ("2022-09-01", "2022-10-01", "in september")),
            ("in March 2021", ("2021-03-01", "2021-04-01", "in march")),
            ("what did I buy in 2022", ("2022-01-01", "2023-01-01", "in 2022")),
            ("the book I read 3 days ago", ("2023-06-10", "2023-06-13", "3 days ago")),
            ("two weeks ago", ("2023-05-28", "2023-06-04", "two weeks ago")),
            ("a couple of months ago", ("2023-03-31", "2023-05-01", "couple months ago")),
        ];
        for (q, (s, e, p)) in cases {
            assert_eq!(range(q), Some((s.to_string(), e.to_string(), p.to_string())), "{q}");
        }
    }

    #[test]
    fn ignores_queries_without_time() {
        assert_eq!(range("what is my favourite food"), None);
        assert_eq!(range("I may go"), None, "'may' alone is not the month");
        assert_eq!(range("ago"), None);
        assert_eq!(range("99999999999 days ago"), None);
    }

    #[test]
    fn the_edges_of_the_calendar_have_no_relative_time() {
        for now in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
            for q in ["yesterday", "today", "last week", "this year", "in May", "3 years ago", "last weekend"] {
                assert_eq!(parse(q, now), None, "{q} at {now}");
            }
        }
        assert!(parse("yesterday", at("9999-12-31T12:00:00Z")).is_some());
    }

    #[test]
    fn contains_is_half_open() {
        let r = parse("yesterday", at("2023-06-14T15:00:00Z")).unwrap();
        assert!(r.contains(at("2023-06-13T00:00:00Z")));
        assert!(r.contains(at("2023-06-13T23:59:59Z")));
        assert!(!r.contains(at("2023-06-14T00:00:00Z")));
    }
}
