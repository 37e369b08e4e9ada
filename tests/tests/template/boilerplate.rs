//! What every function gets from `cargo xtask gen`
//! (xtask/src/generate/boilerplate.rs), checked on the composed template, so
//! that no fragment and no edit of the generator drops it.

use crate::distribution::*;

#[test]
fn every_function_has_its_switch_its_resources_and_its_output() {
    let t = template();
    for (name, stem) in FUNCTIONS {
        let switch = &t["Parameters"][format!("Enable{stem}")];
        assert_eq!(switch["Default"], "false", "{name} is off unless enabled");
        let condition = format!("{stem}Enabled");
        assert_eq!(
            t["Conditions"][&condition]["Fn::Equals"][0]["Ref"],
            format!("Enable{stem}"),
            "{condition} follows Enable{stem}"
        );
        for part in [
            "LogGroup",
            "DeadLetterQueue",
            "Role",
            "Function",
            "ErrorsAlarm",
            "DeadLetterAlarm",
        ] {
            let id = format!("{stem}{part}");
            let resource = resources(t)
                .get(&id)
                .unwrap_or_else(|| panic!("{name} has no {id}"));
            assert_eq!(
                resource["Condition"], condition,
                "{id} sits behind Enable{stem}"
            );
        }
        let output = &t["Outputs"][format!("{stem}FunctionArn")];
        assert_eq!(output["Condition"], condition, "{name}'s ARN output");
        assert_eq!(
            referenced(&output["Value"]),
            Some(format!("{stem}Function").as_str()),
            "{name}'s ARN output names its function"
        );
        let listed =
            t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"][0]["Parameters"]
                .as_array()
                .unwrap();
        assert!(
            listed.iter().any(|p| *p == format!("Enable{stem}")),
            "the console lists Enable{stem} among the functions to deploy"
        );
    }
}
