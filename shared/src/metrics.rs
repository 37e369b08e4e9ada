//! CloudWatch Embedded Metric Format (EMF) for a report's counters.
//!
//! One log line per report becomes CloudWatch metrics without any API call:
//! namespace `toilkit`, dimension `FunctionName`, one `Count` metric per
//! counter. The format is specified in the CloudWatch user guide
//! ("Embedded metric format specification"); the tests check each rule of it
//! that we rely on.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "toilkit";
pub const DIMENSION: &str = "FunctionName";

/// EMF allows at most 100 metrics per directive.
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;

/// The EMF documents (usually one) for `counters`, stamped at `timestamp_ms`.
pub fn emf_documents(
    function: &str,
    counters: &BTreeMap<String, u64>,
    timestamp_ms: u64,
) -> Vec<Value> {
    let names: Vec<&String> = counters.keys().collect();
    names
        .chunks(MAX_METRICS_PER_DIRECTIVE)
        .map(|chunk| {
            let mut doc = Map::new();
            let definitions: Vec<Value> = chunk
                .iter()
                .map(|name| json!({"Name": name, "Unit": "Count"}))
                .collect();
            doc.insert(
                "_aws".to_owned(),
                json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [[DIMENSION]],
                        "Metrics": definitions,
                    }]
                }),
            );
            doc.insert(DIMENSION.to_owned(), Value::from(function));
            for name in chunk {
                doc.insert((*name).clone(), Value::from(counters[*name]));
            }
            Value::Object(doc)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks a document against the EMF specification's rules.
    fn assert_valid_emf(doc: &Value) {
        let aws = doc["_aws"].as_object().expect("_aws is an object");
        assert!(aws["Timestamp"].is_u64(), "Timestamp is a number of ms");
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .expect("CloudWatchMetrics is an array");
        assert!(!directives.is_empty());
        for directive in directives {
            let namespace = directive["Namespace"]
                .as_str()
                .expect("Namespace is a string");
            assert!(!namespace.is_empty() && namespace.len() <= 255);
            let dimension_sets = directive["Dimensions"]
                .as_array()
                .expect("Dimensions is an array");
            for set in dimension_sets {
                let set = set.as_array().expect("a dimension set is an array");
                assert!(set.len() <= 30, "at most 30 dimensions per set");
                for key in set {
                    let key = key.as_str().unwrap();
                    assert!(doc[key].is_string(), "dimension {key} has a string member");
                }
            }
            let metrics = directive["Metrics"]
                .as_array()
                .expect("Metrics is an array");
            assert!(metrics.len() <= MAX_METRICS_PER_DIRECTIVE);
            for metric in metrics {
                let name = metric["Name"].as_str().expect("Name is a string");
                assert!(!name.is_empty() && name.len() <= 1024);
                assert_eq!(metric["Unit"], "Count");
                assert!(doc[name].is_number(), "metric {name} has a numeric member");
            }
        }
    }

    #[test]
    fn counters_become_valid_emf() {
        let counters =
            BTreeMap::from([("groups_scanned".to_owned(), 300), ("failed".to_owned(), 2)]);
        let docs = emf_documents("log-retention", &counters, 1_764_000_000_000);
        assert_eq!(docs.len(), 1);
        assert_valid_emf(&docs[0]);
        assert_eq!(docs[0]["FunctionName"], "log-retention");
        assert_eq!(docs[0]["groups_scanned"], 300);
        assert_eq!(
            docs[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "toilkit"
        );
    }

    #[test]
    fn more_than_one_hundred_counters_split_into_documents() {
        let counters: BTreeMap<String, u64> = (0..150).map(|i| (format!("c{i:03}"), i)).collect();
        let docs = emf_documents("waf-ip-blocker", &counters, 1);
        assert_eq!(docs.len(), 2);
        docs.iter().for_each(assert_valid_emf);
        assert_eq!(
            docs[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            50
        );
    }
}
