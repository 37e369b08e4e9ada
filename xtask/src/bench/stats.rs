//! Repeated measurements summarised as a median and its spread.
//!
//! Start-up times on a shared two-core machine have a long tail (another
//! engineer's build takes a core), so the median is the figure held against a
//! target and the minimum and maximum show how noisy the run was.

use std::fmt;

#[derive(Debug, Clone, Default)]
pub struct Samples {
    values: Vec<f64>,
}

impl Samples {
    pub fn push(&mut self, value: f64) {
        self.values.push(value);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut sorted = self.values.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
    }

    /// The middle value (the mean of the two middle ones for an even count).
    pub fn median(&self) -> Option<f64> {
        let sorted = self.sorted();
        let n = sorted.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(sorted[n / 2]),
            _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
        }
    }

    pub fn min(&self) -> Option<f64> {
        self.sorted().first().copied()
    }

    pub fn max(&self) -> Option<f64> {
        self.sorted().last().copied()
    }
}

/// `median (min–max, n=N)` with the given unit and precision.
pub struct Spread<'a> {
    pub samples: &'a Samples,
    pub unit: &'a str,
    pub decimals: usize,
}

impl fmt::Display for Spread<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Some(median), Some(min), Some(max)) = (
            self.samples.median(),
            self.samples.min(),
            self.samples.max(),
        ) else {
            return write!(f, "no sample");
        };
        let d = self.decimals;
        write!(
            f,
            "{median:.d$} {unit} ({min:.d$}–{max:.d$}, n={n})",
            unit = self.unit,
            n = self.samples.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[f64]) -> Samples {
        let mut s = Samples::default();
        for v in values {
            s.push(*v);
        }
        s
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(of(&[5.0, 1.0, 3.0]).median(), Some(3.0));
        assert_eq!(of(&[4.0, 1.0, 3.0, 2.0]).median(), Some(2.5));
        assert_eq!(of(&[]).median(), None);
    }

    #[test]
    fn spread_shows_median_min_max_and_count() {
        let s = of(&[12.0, 10.0, 30.0]);
        let text = Spread {
            samples: &s,
            unit: "ms",
            decimals: 1,
        }
        .to_string();
        assert_eq!(text, "12.0 ms (10.0–30.0, n=3)");
    }
}
