//! What every function has in template.yaml, written once: its Enable
//! parameter and condition, log group, dead-letter queue, role, function,
//! errors and dead-letter alarms, and ARN output. The function's own parts
//! come from its fragment and its settings.

use super::fragment::{Fragment, indent};

/// One function as the boilerplate names it.
pub struct Names<'a> {
    /// Folder, crate and binary: `waf-ip-blocker`.
    pub name: &'a str,
    /// Logical id stem: `WafIpBlocker`.
    pub stem: &'a str,
    /// Whether it sits behind `Enable<Stem>` and its `<Stem>Enabled`
    /// condition: the product application's functions do, the hub's one
    /// function is the whole application.
    pub switched: bool,
    /// The function's `CodeUri`: the workspace root, from the template's
    /// folder, where `sam build` runs cargo-lambda.
    pub code_uri: &'a str,
}

impl Names<'_> {
    /// The `Condition:` line of each of its resources (indent 4), if it is
    /// switched.
    fn condition(&self) -> String {
        if self.switched {
            format!("    Condition: {}Enabled\n", self.stem)
        } else {
            String::new()
        }
    }
}

/// The role statements every function gets from the shared settings it
/// declares: a function that posts to Slack reads the webhook, one that
/// publishes reports may put events on the bus.
pub struct SharedGrants {
    pub slack_secret: bool,
    pub slack_parameter: bool,
    pub result_events: bool,
}

/// The logical ids the boilerplate defines; a fragment may not define them
/// again.
pub fn ids(stem: &str) -> Vec<String> {
    [
        "LogGroup",
        "DeadLetterQueue",
        "Role",
        "Function",
        "ErrorsAlarm",
        "DeadLetterAlarm",
        "FunctionArn",
        "Enabled",
    ]
    .iter()
    .map(|suffix| format!("{stem}{suffix}"))
    .chain([format!("Enable{stem}")])
    .collect()
}

pub fn enable_parameter(n: &Names, fragment: &Fragment) -> String {
    format!(
        "  Enable{stem}:\n    Type: String\n    Default: \"false\"\n    AllowedValues: [\"true\", \"false\"]\n    Description: {description}\n",
        stem = n.stem,
        description = fragment.enable
    )
}

pub fn enabled_condition(n: &Names) -> String {
    format!(
        "  {stem}Enabled: !Equals [!Ref Enable{stem}, \"true\"]\n",
        stem = n.stem
    )
}

/// The log group, dead-letter queue, role and function, in that order;
/// `environment` is the function's `Variables`, at indent 10.
pub fn resources(
    n: &Names,
    fragment: &Fragment,
    grants: &SharedGrants,
    environment: &str,
) -> String {
    let (name, stem, condition, code_uri) = (n.name, n.stem, n.condition(), n.code_uri);
    let mut out = format!(
        r#"  {stem}LogGroup:
    Type: AWS::Logs::LogGroup
{condition}    Properties:
      LogGroupName: !Sub /aws/lambda/${{NamePrefix}}-{name}
      RetentionInDays: !Ref FunctionLogRetentionDays
      KmsKeyId: !If [HasKmsKey, !Ref KmsKeyArn, !Ref AWS::NoValue]
      Tags:
        - {{Key: toilkit:keep, Value: "true"}}

  {stem}DeadLetterQueue:
    Type: AWS::SQS::Queue
{condition}    Properties:
      QueueName: !Sub ${{NamePrefix}}-{name}-dlq
      # Dead letters are whole raw events (audit statements before redaction
      # among them): kept 4 days, long enough to be seen through the alarm.
      MessageRetentionPeriod: 345600
      KmsMasterKeyId: !If [HasKmsKey, !Ref KmsKeyArn, !Ref AWS::NoValue]
      SqsManagedSseEnabled: !If [HasKmsKey, !Ref AWS::NoValue, true]

  {stem}Role:
    Type: AWS::IAM::Role
{condition}    Properties:
      Description: toilkit {name}
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{Service: lambda.amazonaws.com}}
            Action: sts:AssumeRole
      PermissionsBoundary: !If [HasPermissionsBoundary, !Ref PermissionsBoundaryArn, !Ref AWS::NoValue]
      Policies:
        - PolicyName: {name}
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: OwnLogs
                Effect: Allow
                Action: [logs:CreateLogStream, logs:PutLogEvents]
                Resource: !GetAtt {stem}LogGroup.Arn
              - Sid: FailedInvocations
                Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt {stem}DeadLetterQueue.Arn
              - !If
                - HasKmsKey
                - Sid: QueueKey
                  Effect: Allow
                  Action: [kms:Decrypt, kms:GenerateDataKey]
                  Resource: !Ref KmsKeyArn
                - !Ref AWS::NoValue
"#
    );
    out.push_str(&indent(&fragment.statements, 12));
    if grants.slack_secret {
        out.push_str(
            r#"              - !If
                - HasSlackSecret
                - Sid: SlackWebhookSecret
                  Effect: Allow
                  Action: secretsmanager:GetSecretValue
                  Resource: !Ref SlackWebhookSecretArn
                - !Ref AWS::NoValue
"#,
        );
    }
    if grants.slack_parameter {
        out.push_str(
            r#"              - !If
                - HasSlackParameter
                - Sid: SlackWebhookParameter
                  Effect: Allow
                  Action: ssm:GetParameter
                  Resource: !Sub arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SlackWebhookParameter}
                - !Ref AWS::NoValue
"#,
        );
    }
    if grants.result_events {
        out.push_str(
            r#"              - !If
                - HasResultEventBus
                - Sid: ResultEvents
                  Effect: Allow
                  Action: events:PutEvents
                  Resource: !If
                    - ResultEventBusIsArn
                    - !Ref ResultEventBus
                    - !Sub arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${ResultEventBus}
                - !Ref AWS::NoValue
"#,
        );
    }
    let retries = fragment.event_invoke_config.clone().unwrap_or_else(|| {
        "  MaximumRetryAttempts: 2\n  MaximumEventAgeInSeconds: 21600\n".to_owned()
    });
    out.push_str(&format!(
        r#"
  {stem}Function:
    Type: AWS::Serverless::Function
{condition}    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: {name}
    Properties:
      FunctionName: !Sub ${{NamePrefix}}-{name}
      CodeUri: {code_uri}
      Role: !GetAtt {stem}Role.Arn
{own}      LoggingConfig:
        LogFormat: JSON
        LogGroup: !Ref {stem}LogGroup
      EventInvokeConfig:
{retries}        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: !GetAtt {stem}DeadLetterQueue.Arn
      Environment:
        Variables:
{environment}"#,
        own = indent(&fragment.function, 4),
        retries = indent(&retries, 6),
    ));
    out
}

/// The errors alarm and the dead-letter alarm, to the optional topic.
pub fn alarms(n: &Names, fragment: &Fragment) -> String {
    let (name, stem, condition) = (n.name, n.stem, n.condition());
    format!(
        r#"  {stem}ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
{condition}    Properties:
      AlarmName: !Sub ${{NamePrefix}}-{name}-errors
      AlarmDescription: {errors}
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - {{Name: FunctionName, Value: !Ref {stem}Function}}
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]
      OKActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]
  {stem}DeadLetterAlarm:
    Type: AWS::CloudWatch::Alarm
{condition}    Properties:
      AlarmName: !Sub ${{NamePrefix}}-{name}-dead-letters
      AlarmDescription: {dead_letters}
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions:
        - {{Name: QueueName, Value: !GetAtt {stem}DeadLetterQueue.QueueName}}
      Statistic: Maximum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]
      OKActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]
"#,
        errors = fragment.errors_alarm,
        dead_letters = fragment.dead_letter_alarm,
    )
}

pub fn output(n: &Names, fragment: &Fragment) -> String {
    let (name, stem, condition) = (n.name, n.stem, n.condition());
    let description = fragment
        .output
        .clone()
        .unwrap_or_else(|| format!("ARN of the {name} function."));
    format!(
        "  {stem}FunctionArn:\n{condition}    Description: {description}\n    Value: !GetAtt {stem}Function.Arn\n"
    )
}
