//! Freeze windows: periods in which `patch-waves` must not start a wave.
//!
//! The rollout's plan checks them before it sends any command, so a freeze
//! stops a rollout before it touches an instance instead of halfway through a
//! wave. While any window is in force no wave starts. The check fails closed:
//! an entry we cannot understand is an error, never "no freeze", because
//! patching during a change freeze because of a typo is the worse outcome.
//!
//! The `FREEZE_WINDOWS` setting is a JSON array of strings. An empty array or
//! an empty setting means no freeze. Each entry is one of:
//!
//! * `YYYY-MM-DD..YYYY-MM-DD`: whole UTC days, both ends included
//!   (`2026-12-20..2027-01-04`). A lone `YYYY-MM-DD` is a one-day range.
//! * `cron(MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK YEAR)`: EventBridge syntax,
//!   in UTC; every minute the expression matches is frozen, so
//!   `cron(* * ? * SAT,SUN *)` freezes weekends and
//!   `cron(* 0-6 ? * MON-FRI *)` weekday nights. EventBridge numbers days of
//!   the week 1-7 from Sunday, and exactly one of day-of-month and day-of-week
//!   must be `?`. `L`, `W` and `#` are refused: they name days relative to the
//!   month, which nobody needs for a freeze and which we would rather not get
//!   subtly wrong.

use time::{Date, Month, OffsetDateTime, UtcOffset};

/// The parsed `FREEZE_WINDOWS` setting.
#[derive(Debug, Clone, Default)]
pub struct FreezeWindows {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    // Kept as written so that the plan can tell people which entry froze it in
    // the words they used.
    text: String,
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    Dates { from: Date, to: Date },
    Cron(Box<Cron>),
}

impl FreezeWindows {
    /// Parses the setting's value; the error names the bad entry and why, e.g.
    /// `"cron(* * * * * *)": day-of-month and day-of-week cannot both be given; one must be ?`.
    pub fn parse(text: &str) -> Result<Self, String> {
        // An unset variable usually arrives as an empty string.
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let values: Vec<serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| format!("FREEZE_WINDOWS is not a JSON array of strings: {e}"))?;
        let mut entries = Vec::with_capacity(values.len());
        for (index, value) in values.iter().enumerate() {
            let Some(entry) = value.as_str() else {
                return Err(format!("entry {index} ({value}) is not a string"));
            };
            let rule = parse_entry(entry).map_err(|why| format!("{entry:?}: {why}"))?;
            entries.push(Entry {
                text: entry.to_owned(),
                rule,
            });
        }
        Ok(Self { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry (its text as written) that freezes `at`, if any.
    pub fn frozen_at(&self, at: OffsetDateTime) -> Option<&str> {
        // Conversion fails only within a day of the ends of the representable
        // range, far outside anything an entry can name, so nothing is frozen.
        let at = at.checked_to_offset(UtcOffset::UTC)?;
        self.entries
            .iter()
            .find(|entry| entry.rule.matches(at))
            .map(|entry| entry.text.as_str())
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

impl Rule {
    /// `at` must already be in UTC.
    fn matches(&self, at: OffsetDateTime) -> bool {
        match self {
            Rule::Dates { from, to } => (*from..=*to).contains(&at.date()),
            Rule::Cron(cron) => cron.matches(at),
        }
    }
}

fn parse_entry(text: &str) -> Result<Rule, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty entry".to_owned());
    }
    if text
        .get(..4)
        .is_some_and(|head| head.eq_ignore_ascii_case("cron"))
    {
        let body = text[4..]
            .strip_prefix('(')
            .and_then(|rest| rest.strip_suffix(')'))
            .ok_or("expected cron(MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK YEAR)")?;
        return Cron::parse(body).map(|cron| Rule::Cron(Box::new(cron)));
    }
    let (from, to) = match text.split_once("..") {
        Some((from, to)) => (parse_date(from.trim())?, parse_date(to.trim())?),
        None => {
            let day = parse_date(text).map_err(|_| {
                "expected a date range YYYY-MM-DD..YYYY-MM-DD, a date YYYY-MM-DD, \
                 or cron(MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK YEAR)"
                    .to_owned()
            })?;
            (day, day)
        }
    };
    if from > to {
        return Err(format!("the range starts ({from}) after it ends ({to})"));
    }
    Ok(Rule::Dates { from, to })
}

/// Strict `YYYY-MM-DD`: a looser reading (no padding, signs, extra digits)
/// would let a mistyped year silently move a freeze.
pub(crate) fn parse_date(text: &str) -> Result<Date, String> {
    let bad = || format!("{text:?} is not a date YYYY-MM-DD");
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(bad());
    }
    let year: i32 = text[0..4].parse().map_err(|_| bad())?;
    let month: u8 = text[5..7].parse().map_err(|_| bad())?;
    let day: u8 = text[8..10].parse().map_err(|_| bad())?;
    let month = Month::try_from(month).map_err(|_| format!("{text:?} is not a real date"))?;
    Date::from_calendar_date(year, month, day).map_err(|_| format!("{text:?} is not a real date"))
}

/// A set of values of one cron field. 256 bits cover the widest field (years
/// 1970-2199) counted from the field's minimum.
#[derive(Debug, Clone)]
struct Set {
    min: u16,
    bits: [u64; 4],
}

impl Set {
    fn new(min: u16) -> Self {
        Self { min, bits: [0; 4] }
    }

    fn insert(&mut self, value: u16) {
        let index = usize::from(value - self.min);
        self.bits[index / 64] |= 1 << (index % 64);
    }

    fn contains(&self, value: u16) -> bool {
        let Some(index) = value.checked_sub(self.min).map(usize::from) else {
            return false;
        };
        index < 256 && self.bits[index / 64] & (1 << (index % 64)) != 0
    }
}

struct FieldSpec {
    name: &'static str,
    min: u16,
    max: u16,
    /// `names[i]` stands for `min + i`.
    names: &'static [&'static str],
    /// Only day-of-month and day-of-week may be `?`.
    question: bool,
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    question: false,
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    question: false,
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    question: true,
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    question: false,
};
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    question: true,
};
const YEAR: FieldSpec = FieldSpec {
    name: "year",
    min: 1970,
    max: 2199,
    names: &[],
    question: false,
};

#[derive(Debug, Clone)]
struct Cron {
    minutes: Set,
    hours: Set,
    /// `None` is `?`: the day is decided by day-of-week alone.
    days_of_month: Option<Set>,
    months: Set,
    /// `None` is `?`: the day is decided by day-of-month alone.
    days_of_week: Option<Set>,
    years: Set,
}

impl Cron {
    fn parse(body: &str) -> Result<Self, String> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        let [minute, hour, dom, month, dow, year] = fields[..] else {
            return Err(format!(
                "expected 6 fields (minute hour day-of-month month day-of-week year), found {}",
                fields.len()
            ));
        };
        let required = |spec: &FieldSpec, text: &str| {
            parse_field(spec, text)?.ok_or_else(|| format!("{} field cannot be ?", spec.name))
        };
        let minutes = required(&MINUTE, minute)?;
        let hours = required(&HOUR, hour)?;
        let days_of_month = parse_field(&DAY_OF_MONTH, dom)?;
        let months = required(&MONTH, month)?;
        let days_of_week = parse_field(&DAY_OF_WEEK, dow)?;
        let years = required(&YEAR, year)?;
        // EventBridge rejects both forms; accepting them would leave it unclear
        // whether the two day fields are meant to be combined with "and" or "or".
        match (&days_of_month, &days_of_week) {
            (Some(_), Some(_)) => {
                return Err(
                    "day-of-month and day-of-week cannot both be given; one must be ?".to_owned(),
                );
            }
            (None, None) => {
                return Err(
                    "day-of-month and day-of-week cannot both be ?; exactly one must be".to_owned(),
                );
            }
            _ => {}
        }
        Ok(Self {
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
            years,
        })
    }

    /// `at` must already be in UTC.
    fn matches(&self, at: OffsetDateTime) -> bool {
        let day_matches = match (&self.days_of_month, &self.days_of_week) {
            (Some(days), _) => days.contains(u16::from(at.day())),
            (None, Some(days)) => days.contains(u16::from(at.weekday().number_from_sunday())),
            (None, None) => false,
        };
        day_matches
            && self.minutes.contains(u16::from(at.minute()))
            && self.hours.contains(u16::from(at.hour()))
            && self.months.contains(u16::from(u8::from(at.month())))
            && u16::try_from(at.year()).is_ok_and(|year| self.years.contains(year))
    }
}

/// `Ok(None)` is `?`.
fn parse_field(spec: &FieldSpec, text: &str) -> Result<Option<Set>, String> {
    let fail = |why: String| format!("{} field {text:?}: {why}", spec.name);
    if text == "?" {
        return if spec.question {
            Ok(None)
        } else {
            Err(fail(
                "? is only allowed in day-of-month or day-of-week".to_owned(),
            ))
        };
    }
    if text.contains('#') {
        return Err(fail(unsupported()));
    }
    let mut set = Set::new(spec.min);
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step = step
                    .parse::<u16>()
                    .ok()
                    .filter(|step| *step >= 1)
                    .ok_or_else(|| fail(format!("step {step:?} is not a whole number from 1")))?;
                (range, Some(step))
            }
            None => (part, None),
        };
        let (low, high) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((low, high)) = range.split_once('-') {
            let low = parse_value(spec, low).map_err(&fail)?;
            let high = parse_value(spec, high).map_err(&fail)?;
            if low > high {
                return Err(fail(format!("range {range} runs backwards")));
            }
            (low, high)
        } else {
            let value = parse_value(spec, range).map_err(&fail)?;
            // `a/n` means "from a, every n", as in EventBridge.
            (value, if step.is_some() { spec.max } else { value })
        };
        let step = usize::from(step.unwrap_or(1));
        for value in (low..=high).step_by(step) {
            set.insert(value);
        }
    }
    Ok(Some(set))
}

fn parse_value(spec: &FieldSpec, atom: &str) -> Result<u16, String> {
    if atom.is_empty() {
        return Err("a value is missing".to_owned());
    }
    if atom.bytes().all(|b| b.is_ascii_digit()) {
        return atom
            .parse::<u16>()
            .ok()
            .filter(|value| (spec.min..=spec.max).contains(value))
            .ok_or_else(|| format!("{atom} is out of range {}-{}", spec.min, spec.max));
    }
    let upper = atom.to_ascii_uppercase();
    if let Some(index) = spec.names.iter().position(|name| *name == upper) {
        // At most 12 names, so the index always fits.
        return u16::try_from(index)
            .map(|index| spec.min + index)
            .map_err(|_| format!("{atom} is not a valid {} value", spec.name));
    }
    if upper.contains('L') || upper.contains('W') {
        return Err(unsupported());
    }
    Err(format!("{atom:?} is not a valid {} value", spec.name))
}

fn unsupported() -> String {
    "L, W and # are not supported in a freeze window".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn windows(entries: &[&str]) -> FreezeWindows {
        let text = serde_json::to_string(entries).unwrap();
        FreezeWindows::parse(&text).unwrap()
    }

    fn refused(entry: &str) -> String {
        let text = serde_json::to_string(&[entry]).unwrap();
        let err = FreezeWindows::parse(&text).unwrap_err();
        assert!(
            err.contains(&format!("{entry:?}")),
            "error {err:?} does not name {entry:?}"
        );
        err
    }

    #[test]
    fn empty_settings_mean_no_freeze() {
        for text in ["", "  ", "[]"] {
            let parsed = FreezeWindows::parse(text).unwrap();
            assert!(parsed.is_empty());
            assert_eq!(parsed.len(), 0);
            assert_eq!(parsed.frozen_at(datetime!(2026-12-12 12:00 UTC)), None);
        }
    }

    #[test]
    fn weekend_cron() {
        let w = windows(&["cron(* * ? * SAT,SUN *)"]);
        assert_eq!(w.len(), 1);
        let saturday = datetime!(2026-12-12 12:00 UTC);
        assert_eq!(saturday.weekday(), time::Weekday::Saturday);
        assert_eq!(w.frozen_at(saturday), Some("cron(* * ? * SAT,SUN *)"));
        assert_eq!(
            w.frozen_at(datetime!(2026-12-13 23:59 UTC)),
            Some("cron(* * ? * SAT,SUN *)")
        );
        let friday = datetime!(2026-12-11 23:59 UTC);
        assert_eq!(friday.weekday(), time::Weekday::Friday);
        assert_eq!(w.frozen_at(friday), None);
        assert_eq!(w.frozen_at(datetime!(2026-12-14 00:00 UTC)), None);
    }

    #[test]
    fn converts_to_utc_before_matching() {
        let w = windows(&["cron(* * ? * SAT,SUN *)"]);
        // Friday evening locally, already Saturday in UTC.
        assert!(w.frozen_at(datetime!(2026-12-11 23:30 -01:00)).is_some());
        // Saturday morning locally, still Friday in UTC.
        assert!(w.frozen_at(datetime!(2026-12-12 00:30 +01:00)).is_none());
    }

    #[test]
    fn numeric_days_count_from_sunday() {
        let w = windows(&["cron(* * ? * 1,7 *)"]);
        assert!(w.frozen_at(datetime!(2026-12-13 08:00 UTC)).is_some()); // Sunday
        assert!(w.frozen_at(datetime!(2026-12-12 08:00 UTC)).is_some()); // Saturday
        assert!(w.frozen_at(datetime!(2026-12-14 08:00 UTC)).is_none()); // Monday
    }

    #[test]
    fn weekday_nights() {
        let w = windows(&["cron(* 0-6 ? * MON-FRI *)"]);
        assert!(w.frozen_at(datetime!(2026-12-07 00:00 UTC)).is_some()); // Monday
        assert!(w.frozen_at(datetime!(2026-12-11 06:59 UTC)).is_some()); // Friday
        assert!(w.frozen_at(datetime!(2026-12-11 07:00 UTC)).is_none());
        assert!(w.frozen_at(datetime!(2026-12-12 03:00 UTC)).is_none()); // Saturday
    }

    #[test]
    fn dates_are_inclusive_of_both_days() {
        let w = windows(&["2026-12-20..2027-01-04"]);
        assert_eq!(
            w.frozen_at(datetime!(2026-12-20 00:00 UTC)),
            Some("2026-12-20..2027-01-04")
        );
        assert!(w.frozen_at(datetime!(2027-01-04 23:59 UTC)).is_some());
        assert!(
            w.frozen_at(datetime!(2027-01-04 23:59:59.999 UTC))
                .is_some()
        );
        assert!(w.frozen_at(datetime!(2027-01-05 00:00 UTC)).is_none());
        assert!(w.frozen_at(datetime!(2026-12-19 23:59 UTC)).is_none());
    }

    #[test]
    fn single_date_is_one_day() {
        let w = windows(&["2026-12-25"]);
        assert!(w.frozen_at(datetime!(2026-12-25 00:00 UTC)).is_some());
        assert!(w.frozen_at(datetime!(2026-12-25 23:59 UTC)).is_some());
        assert!(w.frozen_at(datetime!(2026-12-26 00:00 UTC)).is_none());
        assert!(w.frozen_at(datetime!(2026-12-24 23:59 UTC)).is_none());
    }

    #[test]
    fn minute_steps() {
        let w = windows(&["cron(*/15 * ? * * *)"]);
        assert!(w.frozen_at(datetime!(2026-12-08 10:30 UTC)).is_some());
        assert!(w.frozen_at(datetime!(2026-12-08 10:00 UTC)).is_some());
        assert!(w.frozen_at(datetime!(2026-12-08 10:31 UTC)).is_none());

        let w = windows(&["cron(5/20 * ? * * *)"]);
        assert!(w.frozen_at(datetime!(2026-12-08 10:45 UTC)).is_some());
        assert!(w.frozen_at(datetime!(2026-12-08 10:00 UTC)).is_none());

        let w = windows(&["cron(10-20/5 * ? * * *)"]);
        assert!(w.frozen_at(datetime!(2026-12-08 10:15 UTC)).is_some());
        assert!(w.frozen_at(datetime!(2026-12-08 10:25 UTC)).is_none());
    }

    #[test]
    fn day_of_month_month_and_year() {
        let w = windows(&["cron(* * 24-26 dec ? 2026)"]);
        assert!(w.frozen_at(datetime!(2026-12-25 12:00 UTC)).is_some());
        assert!(w.frozen_at(datetime!(2026-12-27 12:00 UTC)).is_none());
        assert!(w.frozen_at(datetime!(2027-12-25 12:00 UTC)).is_none());
        assert!(w.frozen_at(datetime!(2026-11-25 12:00 UTC)).is_none());
    }

    #[test]
    fn names_are_case_insensitive() {
        let w = windows(&["CRON(* * ? Jan-feb sun *)"]);
        assert!(w.frozen_at(datetime!(2027-01-03 12:00 UTC)).is_some());
        assert!(w.frozen_at(datetime!(2027-03-07 12:00 UTC)).is_none());
    }

    #[test]
    fn first_matching_entry_is_reported_as_written() {
        let w = windows(&["2027-01-01", " cron(* *  ? * * *) "]);
        assert_eq!(w.len(), 2);
        assert_eq!(
            w.frozen_at(datetime!(2027-01-01 12:00 UTC)),
            Some("2027-01-01")
        );
        assert_eq!(
            w.frozen_at(datetime!(2027-01-02 12:00 UTC)),
            Some(" cron(* *  ? * * *) ")
        );
    }

    #[test]
    fn refuses_l_w_and_hash() {
        for entry in [
            "cron(* * L * ? *)",
            "cron(* * 15W * ? *)",
            "cron(* * LW * ? *)",
            "cron(* * ? * 6L *)",
            "cron(* * ? * 6#3 *)",
        ] {
            let err = refused(entry);
            assert!(err.contains("not supported in a freeze window"), "{err}");
        }
    }

    #[test]
    fn refuses_both_day_fields_given() {
        let err = refused("cron(* * * * * *)");
        assert_eq!(
            err,
            "\"cron(* * * * * *)\": day-of-month and day-of-week cannot both be given; one must be ?"
        );
        refused("cron(* * 1 * MON *)");
    }

    #[test]
    fn refuses_neither_day_field_open() {
        let err = refused("cron(* * ? * ? *)");
        assert!(err.contains("cannot both be ?"), "{err}");
    }

    #[test]
    fn refuses_question_mark_elsewhere() {
        let err = refused("cron(? * ? * * *)");
        assert!(err.contains("minute field"), "{err}");
    }

    #[test]
    fn refuses_out_of_range() {
        for entry in [
            "cron(60 * ? * * *)",
            "cron(* 24 ? * * *)",
            "cron(* * 0 * ? *)",
            "cron(* * 32 * ? *)",
            "cron(* * ? 13 * *)",
            "cron(* * ? * 0 *)",
            "cron(* * ? * 8 *)",
            "cron(* * ? * * 1969)",
            "cron(* * ? * * 2200)",
            "cron(* * ? * * 99999)",
        ] {
            let err = refused(entry);
            assert!(err.contains("out of range"), "{err}");
        }
    }

    #[test]
    fn refuses_malformed_cron() {
        for entry in [
            "cron(* * ? * *)",
            "cron(* * ? * * * *)",
            "cron()",
            "cron(* * ? * * *",
            "cron(*/0 * ? * * *)",
            "cron(10-5 * ? * * *)",
            "cron(1,,2 * ? * * *)",
            "cron(* * ? * FUNDAY *)",
            "cron(* * ? * MON- *)",
        ] {
            refused(entry);
        }
        let err = refused("cron(* * ? * *)");
        assert!(err.contains("found 5"), "{err}");
    }

    #[test]
    fn refuses_bad_dates() {
        let err = refused("2027-01-04..2026-12-20");
        assert!(err.contains("after it ends"), "{err}");
        for entry in [
            "2026-02-30",
            "2026-13-01",
            "26-12-20",
            "2026-12-20..",
            "2026-12-20..2026-12-2x",
            "+2026-12-20",
            "weekends",
            "",
        ] {
            refused(entry);
        }
    }

    #[test]
    fn refuses_what_is_not_a_json_array_of_strings() {
        for text in ["not json", "[", "{}", "\"2026-12-20\"", "null"] {
            let err = FreezeWindows::parse(text).unwrap_err();
            assert!(err.contains("FREEZE_WINDOWS"), "{err}");
        }
        let err = FreezeWindows::parse(r#"["2026-12-20", 5]"#).unwrap_err();
        assert!(err.contains("entry 1 (5)"), "{err}");
        let err = FreezeWindows::parse(r#"[null]"#).unwrap_err();
        assert!(err.contains("entry 0 (null)"), "{err}");
    }
}
