//! The rollout's pure part: which instances a wave takes and why the others
//! are left alone, the record a wave keeps between invocations (a wave
//! takes minutes to hours, and each invocation moves it on a step), and
//! whether a finished wave lets the rollout go on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::elbv2::Target;
use time::Date;

use crate::config::Rollout;
use crate::exemption::Exempt;
use crate::plan::{Agent, Instance};

/// Where a wave is. Every phase that acts is written before it acts, so an
/// invocation that dies half-way leaves a record the next one can finish
/// from without acting twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    Snapshot,
    Drain,
    /// Deregistered (or being deregistered); draining until `until` at the
    /// latest (epoch seconds).
    Draining {
        until: i64,
    },
    Patch,
    /// The commands are being sent; `at` is when sending began. A record
    /// left here is finished by finding the commands already sent.
    Sending {
        at: i64,
    },
    Patching {
        commands: Vec<String>,
        until: i64,
    },
    Restore,
    Health {
        until: i64,
    },
    Bake {
        until: i64,
    },
    Done,
    Stopped {
        reason: String,
    },
}

impl Phase {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Snapshot => "snapshot",
            Self::Drain => "drain",
            Self::Draining { .. } => "draining",
            Self::Patch => "patch",
            Self::Sending { .. } => "sending",
            Self::Patching { .. } => "patching",
            Self::Restore => "restore",
            Self::Health { .. } => "health",
            Self::Bake { .. } => "bake",
            Self::Done => "done",
            Self::Stopped { .. } => "stopped",
        }
    }
}

/// The step an instance failed at; nothing further happens to it (except
/// being put back into its target groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Snapshot,
    Drain,
    Patch,
    Health,
    /// ELBv2 would not take it back (stopped or terminated since).
    PutBack,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Pending,
    Patched,
    Failed { step: Step, detail: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<String>,
}

impl Member {
    pub fn pending(&self) -> bool {
        self.outcome == Outcome::Pending
    }

    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed { .. })
    }

    /// Records the first failure; a later one does not hide why it failed.
    pub fn fail(&mut self, step: Step, detail: impl Into<String>) {
        if !self.failed() {
            self.outcome = Outcome::Failed {
                step,
                detail: detail.into(),
            };
        }
    }
}

/// An instance tagged for the wave that the wave does not patch, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    pub instance: String,
    pub reason: String,
}

/// One wave of one rollout, as the state table keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wave {
    pub rollout: String,
    pub name: String,
    /// The execution that planned it: another execution of the same rollout
    /// re-runs a stopped wave, the same one only reports it stopped.
    pub execution: String,
    /// Epoch seconds; also names this run's commands, so that a re-run
    /// never mistakes an earlier run's command for its own.
    pub planned_at: i64,
    #[serde(flatten)]
    pub phase: Phase,
    pub members: BTreeMap<String, Member>,
    #[serde(default)]
    pub left_out: Vec<LeftOut>,
    /// Said in every report of the wave: expired exemptions, instances
    /// tagged for a wave that does not exist.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Every target taken out of service, so that each is put back, even an
    /// instance that failed.
    #[serde(default)]
    pub drained: Vec<Target>,
    /// The record's version in the table; 0 before it is first written.
    #[serde(skip)]
    pub version: u64,
}

impl Wave {
    pub fn failed(&self) -> usize {
        self.members.values().filter(|m| m.failed()).count()
    }

    pub fn patched(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.outcome == Outcome::Patched)
            .count()
    }

    /// Fails each of `ids` that is a member, at `step`, for `why`.
    pub fn fail_all<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a String>,
        step: Step,
        why: &str,
    ) {
        for id in ids {
            if let Some(m) = self.members.get_mut(id) {
                m.fail(step, why);
            }
        }
    }

    /// Members still to be patched, in id order.
    pub fn pending(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, m)| m.pending())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The comment of this run's `index`th command: at most 100 characters,
    /// as SendCommand allows (rollout names are at most 48, waves 20).
    pub fn command_comment(&self, index: usize) -> String {
        format!(
            "toilkit {}/{} {} part {index}",
            self.rollout, self.name, self.planned_at
        )
    }
}

/// The most instances one wave may hold.
pub const MAX_MEMBERS: usize = 300;

/// What a wave is planned from.
pub struct Fleet<'a> {
    /// The running instances.
    pub instances: &'a [Instance],
    pub agents: &'a BTreeMap<String, Agent>,
}

/// The instances of wave `name`: those whose opt-in tag names it, that
/// Systems Manager manages and reaches, that no exemption covers and that
/// are not in an Auto Scaling group. Members an earlier run of this wave
/// patched stay patched.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    rollout: &str,
    name: &str,
    execution: &str,
    first: bool,
    fleet: &Fleet<'_>,
    settings: &Rollout,
    earlier: Option<&Wave>,
    today: Date,
    now: i64,
) -> Wave {
    let mut members = BTreeMap::new();
    let mut left_out = Vec::new();
    let mut notes = Vec::new();
    for instance in fleet.instances {
        let Some(tagged) = instance.tags.get(&settings.wave_tag_key) else {
            continue;
        };
        let tagged = tagged.trim();
        if first && !settings.waves.iter().any(|w| w == tagged) {
            notes.push(format!(
                "{} is tagged {}={tagged:?}, which is not one of the waves ({}): it is not patched",
                instance.id,
                settings.wave_tag_key,
                settings.waves.join(", ")
            ));
        }
        if tagged != name {
            continue;
        }
        let leave = |reason: String| LeftOut {
            instance: instance.id.clone(),
            reason,
        };
        if let Some(before) = earlier
            .and_then(|w| w.members.get(&instance.id))
            .filter(|m| m.outcome == Outcome::Patched)
        {
            members.insert(instance.id.clone(), before.clone());
            continue;
        }
        match settings
            .exemptions
            .check(&instance.id, &instance.tags, today)
        {
            Some(Exempt::Yes { reason, expires }) => {
                left_out.push(leave(format!("exempt until {expires}: {reason}")));
                continue;
            }
            Some(Exempt::Expired { reason, expired }) => notes.push(format!(
                "{}: its exemption expired on {expired} ({reason}), so it is patched",
                instance.id
            )),
            None => {}
        }
        if let Some(group) = instance.auto_scaling_group() {
            left_out.push(leave(format!(
                "in Auto Scaling group {group}: patch it with a new AMI and an instance refresh, not in place"
            )));
            continue;
        }
        match fleet.agents.get(&instance.id) {
            None => {
                left_out.push(leave(
                    "not managed by Systems Manager: nothing can be sent to it".to_owned(),
                ));
                continue;
            }
            Some(agent) if agent.ping_status != "Online" => {
                left_out.push(leave(format!(
                    "its Systems Manager agent is {}: a command would not arrive",
                    agent.ping_status
                )));
                continue;
            }
            Some(_) => {}
        }
        members.insert(
            instance.id.clone(),
            Member {
                name: instance.name().map(str::to_owned),
                outcome: Outcome::Pending,
                snapshots: Vec::new(),
            },
        );
    }
    // The wave's record must fit one DynamoDB item (400 KB) with a failure
    // detail for every member: a bigger wave is refused before it starts.
    let phase = if members.len() > MAX_MEMBERS {
        Phase::Stopped {
            reason: format!(
                "wave {name} has {} instances; at most {MAX_MEMBERS} a wave: split it into more waves",
                members.len()
            ),
        }
    } else {
        Phase::Snapshot
    };
    Wave {
        rollout: rollout.to_owned(),
        name: name.to_owned(),
        execution: execution.to_owned(),
        planned_at: now,
        phase,
        members,
        left_out,
        notes,
        drained: Vec::new(),
        version: earlier.map_or(0, |w| w.version),
    }
}

/// Whether the rollout may go on after `wave`: `Err` says why it stops.
/// Any failure stops the canary (the first wave); a later wave stops it
/// when its failed share passes `failure_percent`.
pub fn verdict(wave: &Wave, first: bool, failure_percent: u32) -> Result<(), String> {
    let failed = wave.failed();
    let total = wave.members.len();
    // A canary that patched nothing tested nothing: the next wave would go
    // ahead with no canary at all.
    if first && wave.patched() == 0 {
        return Err(format!(
            "the canary wave {} patched no instance ({} left out, {failed} failed): nothing was tried before the other waves",
            wave.name,
            wave.left_out.len()
        ));
    }
    if failed == 0 {
        return Ok(());
    }
    if first {
        return Err(format!(
            "the canary wave {} had {failed} failure(s) of {total} instance(s)",
            wave.name
        ));
    }
    if failed * 100 > failure_percent as usize * total {
        return Err(format!(
            "wave {} had {failed} failure(s) of {total} instance(s), more than the {failure_percent}% allowed",
            wave.name
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use shared::config::Env;
    use time::macros::date;

    use super::*;
    use crate::config::Config;

    fn settings(pairs: &[(&str, &str)]) -> Rollout {
        let mut env = Env::from_pairs(
            [
                ("STATE_TABLE", "t"),
                ("SLACK_WEBHOOK_PARAMETER", "/toilkit/slack"),
            ]
            .into_iter()
            .chain(pairs.iter().copied()),
        );
        let config = Config::from_env(&mut env);
        env.finish().unwrap();
        config.rollout
    }

    fn instance(id: &str, tags: &[(&str, &str)]) -> Instance {
        Instance {
            id: id.into(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            image_id: None,
            instance_profile: None,
            vpc_id: None,
            subnet_id: None,
        }
    }

    fn online() -> Agent {
        Agent {
            ping_status: "Online".into(),
            last_ping: None,
            platform: None,
        }
    }

    const TAG: &str = "toilkit:patch-wave";

    #[test]
    fn a_wave_takes_only_opted_in_managed_instances_and_says_why_it_leaves_the_others() {
        let rollout = settings(&[(
            "EXEMPTIONS",
            r#"[{"instance":"i-0000000000000000e","reason":"vendor box","expires":"2027-01-31"},
                {"instance":"i-0000000000000000f","reason":"old","expires":"2026-12-01"}]"#,
        )]);
        let instances = vec![
            instance("i-0000000000000000a", &[(TAG, "canary"), ("Name", "web-1")]),
            instance("i-0000000000000000b", &[(TAG, "1")]),
            instance("i-0000000000000000c", &[]),
            instance(
                "i-0000000000000000d",
                &[(TAG, "canary"), ("aws:autoscaling:groupName", "web-asg")],
            ),
            instance("i-0000000000000000e", &[(TAG, "canary")]),
            instance("i-0000000000000000f", &[(TAG, "canary")]),
            instance("i-00000000000000010", &[(TAG, "canary")]),
            instance("i-00000000000000011", &[(TAG, "canary ")]),
            instance("i-00000000000000012", &[(TAG, "cnary")]),
        ];
        let mut agents: BTreeMap<String, Agent> = [
            "i-0000000000000000a",
            "i-0000000000000000b",
            "i-0000000000000000d",
            "i-0000000000000000e",
            "i-0000000000000000f",
            "i-00000000000000011",
        ]
        .into_iter()
        .map(|id| (id.to_owned(), online()))
        .collect();
        agents.insert(
            "i-00000000000000011".into(),
            Agent {
                ping_status: "ConnectionLost".into(),
                ..online()
            },
        );
        let fleet = Fleet {
            instances: &instances,
            agents: &agents,
        };
        let wave = plan(
            "r1",
            "canary",
            "exec",
            true,
            &fleet,
            &rollout,
            None,
            date!(2026 - 12 - 07),
            1,
        );
        let members: Vec<&str> = wave.members.keys().map(String::as_str).collect();
        assert_eq!(members, ["i-0000000000000000a", "i-0000000000000000f"]);
        assert_eq!(
            wave.members["i-0000000000000000a"].name.as_deref(),
            Some("web-1")
        );
        let why: BTreeMap<&str, &str> = wave
            .left_out
            .iter()
            .map(|l| (l.instance.as_str(), l.reason.as_str()))
            .collect();
        assert!(
            why["i-0000000000000000d"].contains("instance refresh"),
            "{why:?}"
        );
        assert!(why["i-0000000000000000e"].contains("vendor box"), "{why:?}");
        assert!(
            why["i-00000000000000010"].contains("not managed"),
            "{why:?}"
        );
        assert!(
            why["i-00000000000000011"].contains("ConnectionLost"),
            "{why:?}"
        );
        assert_eq!(why.len(), 4);
        let notes = wave.notes.join("\n");
        assert!(
            notes.contains("i-0000000000000000f: its exemption expired"),
            "{notes}"
        );
        assert!(notes.contains("\"cnary\""), "{notes}");
        assert!(!notes.contains("i-0000000000000000b"), "{notes}");
    }

    #[test]
    fn a_wave_too_big_for_its_record_is_stopped_before_it_starts() {
        let rollout = settings(&[]);
        let instances: Vec<Instance> = (0..=MAX_MEMBERS)
            .map(|i| instance(&format!("i-{i:017x}"), &[(TAG, "1")]))
            .collect();
        let agents: BTreeMap<String, Agent> =
            instances.iter().map(|i| (i.id.clone(), online())).collect();
        let fleet = Fleet {
            instances: &instances,
            agents: &agents,
        };
        let wave = plan(
            "r",
            "1",
            "e",
            false,
            &fleet,
            &rollout,
            None,
            date!(2026 - 12 - 07),
            1,
        );
        let Phase::Stopped { reason } = &wave.phase else {
            panic!("{:?}", wave.phase)
        };
        assert!(reason.contains("301 instances; at most 300"), "{reason}");
        let fits = Fleet {
            instances: &instances[..MAX_MEMBERS],
            agents: &agents,
        };
        let wave = plan(
            "r",
            "1",
            "e",
            false,
            &fits,
            &rollout,
            None,
            date!(2026 - 12 - 07),
            1,
        );
        assert_eq!(wave.phase, Phase::Snapshot);
    }

    #[test]
    fn a_rerun_keeps_what_the_earlier_run_patched() {
        let rollout = settings(&[]);
        let instances = vec![
            instance("i-0000000000000000a", &[(TAG, "1")]),
            instance("i-0000000000000000b", &[(TAG, "1")]),
        ];
        let agents: BTreeMap<String, Agent> =
            instances.iter().map(|i| (i.id.clone(), online())).collect();
        let fleet = Fleet {
            instances: &instances,
            agents: &agents,
        };
        let today = date!(2026 - 12 - 07);
        let mut earlier = plan("r", "1", "e1", false, &fleet, &rollout, None, today, 1);
        earlier
            .members
            .get_mut("i-0000000000000000a")
            .unwrap()
            .outcome = Outcome::Patched;
        earlier
            .members
            .get_mut("i-0000000000000000b")
            .unwrap()
            .fail(Step::Patch, "yum lock");
        earlier.version = 7;
        let again = plan(
            "r",
            "1",
            "e2",
            false,
            &fleet,
            &rollout,
            Some(&earlier),
            today,
            2,
        );
        assert_eq!(again.pending(), ["i-0000000000000000b"]);
        assert_eq!(again.patched(), 1);
        assert_eq!(again.version, 7, "the re-run replaces the record it read");
        assert_ne!(again.command_comment(0), earlier.command_comment(0));
    }

    #[test]
    fn the_canary_stops_on_any_failure_and_later_waves_past_the_threshold() {
        let mut wave = Wave {
            rollout: "r".into(),
            name: "canary".into(),
            execution: "e".into(),
            planned_at: 0,
            phase: Phase::Done,
            members: (0..10)
                .map(|i| {
                    (
                        format!("i-{i}"),
                        Member {
                            name: None,
                            outcome: Outcome::Patched,
                            snapshots: vec![],
                        },
                    )
                })
                .collect(),
            left_out: vec![],
            notes: vec![],
            drained: vec![],
            version: 0,
        };
        assert_eq!(verdict(&wave, true, 10), Ok(()));
        let mut empty = wave.clone();
        empty.members.clear();
        assert!(
            verdict(&empty, true, 10)
                .unwrap_err()
                .contains("patched no instance")
        );
        assert_eq!(
            verdict(&empty, false, 10),
            Ok(()),
            "a later wave may be empty"
        );
        wave.members.get_mut("i-0").unwrap().fail(Step::Patch, "x");
        assert!(verdict(&wave, true, 10).unwrap_err().contains("canary"));
        assert_eq!(verdict(&wave, false, 10), Ok(()), "1 of 10 is not past 10%");
        wave.members.get_mut("i-1").unwrap().fail(Step::Health, "x");
        assert!(
            verdict(&wave, false, 10)
                .unwrap_err()
                .contains("2 failure(s) of 10")
        );
        assert!(verdict(&wave, false, 0).is_err());
    }

    #[test]
    fn a_wave_record_reads_back_as_written() {
        let wave = Wave {
            rollout: "r".into(),
            name: "1".into(),
            execution: "e".into(),
            planned_at: 5,
            phase: Phase::Patching {
                commands: vec!["c1".into()],
                until: 9,
            },
            members: [(
                "i-1".to_owned(),
                Member {
                    name: Some("web".into()),
                    outcome: Outcome::Failed {
                        step: Step::Drain,
                        detail: "throttled".into(),
                    },
                    snapshots: vec!["snap-1".into()],
                },
            )]
            .into(),
            left_out: vec![],
            notes: vec!["n".into()],
            drained: vec![Target {
                target_group: "tg".into(),
                id: "i-1".into(),
                port: Some(80),
            }],
            version: 0,
        };
        let text = serde_json::to_string(&wave).unwrap();
        let back: Wave = serde_json::from_str(&text).unwrap();
        assert_eq!(back, wave);
    }
}
