//! Figures printed beside their targets, and a tally of the targets missed.

use std::fmt::Write as _;

/// Every line printed so far with a target, and which ones missed.
#[derive(Debug, Default)]
pub struct Scorecard {
    met: usize,
    missed: Vec<String>,
    unmeasured: Vec<String>,
}

impl Scorecard {
    /// Prints a figure that has no target of its own (context for others).
    pub fn info(&self, name: &str, value: &str) {
        println!("  {name:<22} {value}");
    }

    /// Prints a figure beside its target and whether it is met.
    pub fn check(&mut self, subject: &str, name: &str, value: &str, target: &str, met: bool) {
        let verdict = if met { "ok" } else { "MISSED" };
        println!("  {name:<22} {value:<36} target {target:<14} {verdict}");
        if met {
            self.met += 1;
        } else {
            self.missed
                .push(format!("{subject}: {name} {value} (target {target})"));
        }
    }

    /// A figure that could not be taken, and why.
    pub fn unmeasured(&mut self, subject: &str, why: &str) {
        println!("  not measured: {why}");
        self.unmeasured.push(format!("{subject}: {why}"));
    }

    pub fn all_met(&self) -> bool {
        self.missed.is_empty() && self.unmeasured.is_empty()
    }

    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} target(s) met, {} missed, {} not measured",
            self.met,
            self.missed.len(),
            self.unmeasured.len()
        );
        for line in &self.missed {
            let _ = write!(text, "\n  missed: {line}");
        }
        for line in &self.unmeasured {
            let first = line.lines().next().unwrap_or_default();
            let _ = write!(text, "\n  not measured: {first}");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_target_is_named_in_the_summary() {
        let mut card = Scorecard::default();
        card.check("waf", "zip", "2.0 MB", "≤ 4 MB", true);
        card.check("waf", "init", "41 ms", "≤ 30 ms", false);
        assert!(!card.all_met());
        let summary = card.summary();
        assert!(
            summary.starts_with("1 target(s) met, 1 missed"),
            "{summary}"
        );
        assert!(
            summary.contains("waf: init 41 ms (target ≤ 30 ms)"),
            "{summary}"
        );
    }

    #[test]
    fn a_figure_not_taken_is_not_counted_as_met() {
        let mut card = Scorecard::default();
        card.unmeasured("config-triage", "no README yet");
        assert!(!card.all_met());
        assert!(card.summary().contains("not measured: config-triage"));
    }
}
