# The default of every parameter of the application's template, as the
# strings SAR receives. The module sends only the parameters whose value
# differs from these: the AWS provider reads a stack's parameters back without
# the ones equal to their default (hashicorp/terraform-provider-aws#16485), so
# sending a default would show a change on every plan and fail the next apply
# with "didn't contain changes". tests/tests/terraform.rs keeps this map equal
# to template.yaml.
locals {
  template_defaults = {
    # BEGIN generated: application-defaults (cargo xtask gen, from xtask/src/generate/application.rs)
    NamePrefix               = "toilkit"
    SlackWebhookSecretArn    = ""
    SlackWebhookParameter    = ""
    AlarmTopicArn            = ""
    FunctionLogRetentionDays = "90"
    PermissionsBoundaryArn   = ""
    KmsKeyArn                = ""
    # END generated: application-defaults
    AccessDeniedTriageDigestSchedule    = "cron(0 8 * * ? *)"
    AccessDeniedTriageRouteSecretPrefix = ""
    AccessDeniedTriageTrailLogGroupName = ""
    ConfigTriageDigestSchedule          = "cron(0 8 ? * MON-FRI *)"
    ConfigTriageRouteSecretPrefix       = ""
    EnableAccessDeniedTriage            = "false"
    EnableConfigTriage                  = "false"
    EnableLogRetention                  = "false"
    EnableMaintenanceSwitch             = "false"
    EnablePatchWaves                    = "false"
    EnablePatchWavesRollout             = "false"
    EnableRdsAuditNotifier              = "false"
    EnableWafIpBlocker                  = "false"
    LogRetentionOnCreateLogGroup        = "true"
    LogRetentionPruneBuckets            = ""
    LogRetentionSchedule                = "rate(1 day)"
    MaintenanceLoadBalancerNames        = ""
    MaintenanceNotifyTopicArn           = ""
    PatchWavesReportSchedule            = "cron(0 6 ? * MON-FRI *)"
    PatchWavesRouteSecretPrefix         = ""
    RdsAuditLogGroupName                = ""
    ResultEventBus                      = ""
    ResultLabel                         = ""
    ResultEventForwardBusArn            = ""
    WafLogBucketName                    = ""
    WafLogBucketTrigger                 = "eventbridge"
    WafLogGroupName                     = ""
    WafLogKeyPrefix                     = ""
    WafSchedule                         = "rate(5 minutes)"
    # BEGIN generated: defaults (cargo xtask gen, from each function's src/config.rs)
    WafIpSetV4Arn                        = ""
    WafIpSetV6Arn                        = ""
    WafThreshold                         = "100"
    WafWindowSeconds                     = "300"
    WafCountActions                      = "ALLOW,BLOCK,COUNT,CAPTCHA,CHALLENGE"
    WafCountLabels                       = ""
    WafCountRules                        = ""
    WafIgnoreUriSuffixes                 = ""
    WafUriRules                          = ""
    WafClientIpHeader                    = ""
    WafClientIpHop                       = "1"
    WafBlockMinutes                      = "240"
    WafAggregateV4Prefix                 = ""
    WafAggregateMin                      = "10"
    WafAllowCidrs                        = ""
    WafMaxNewBlocksPerRun                = "1000"
    WafDryRun                            = "false"
    RdsAlertOn                           = "ddl,account,failed_login"
    RdsIgnoreUsers                       = "rdsadmin"
    RdsIgnoreHosts                       = ""
    RdsWatchUsers                        = ""
    RdsMatchRegex                        = ""
    MaintenanceDefaultBody               = ""
    MaintenanceDefaultStatusCode         = "503"
    MaintenanceDefaultMode               = "fixed-response"
    ConfigTriageSeverityRules            = ""
    ConfigTriageExemptions               = ""
    ConfigTriageExemptionsParameter      = ""
    ConfigTriageRenotifyHours            = "24"
    ConfigTriageOwnerTagKey              = "owner"
    ConfigTriageRoutes                   = ""
    ConfigTriageCriticalTopicArn         = ""
    ConfigTriageAggregatorName           = ""
    ConfigTriageDigestOldest             = "10"
    ConfigTriageDryRun                   = "false"
    LogRetentionDays                     = "30"
    LogRetentionRules                    = ""
    LogRetentionOverrideExisting         = "false"
    LogRetentionExemptTagKey             = "toilkit:keep"
    LogRetentionDeleteEmptyAfterDays     = ""
    LogRetentionS3Prune                  = ""
    LogRetentionMaxGroupDeletionsPerRun  = "50"
    LogRetentionMaxObjectDeletionsPerRun = "100000"
    LogRetentionRegions                  = ""
    LogRetentionDryRun                   = "false"
    LogRetentionMaxApiRps                = "5"
    AccessDeniedTriageRules              = ""
    AccessDeniedTriageSensitiveActions   = "iam:*,organizations:*,kms:PutKeyPolicy,kms:ScheduleKeyDeletion,kms:DisableKey,cloudtrail:StopLogging,cloudtrail:DeleteTrail,cloudtrail:UpdateTrail,cloudtrail:PutEventSelectors,guardduty:DeleteDetector,guardduty:UpdateDetector,guardduty:Disassociate*,config:StopConfigurationRecorder,config:DeleteConfigurationRecorder,config:DeleteDeliveryChannel,securityhub:DisableSecurityHub,securityhub:BatchDisableStandards,s3:PutBucketPolicy,s3:DeleteBucketPolicy,s3:PutBucketPublicAccessBlock,s3:DeleteBucketPublicAccessBlock,s3:PutAccountPublicAccessBlock,s3:DeleteAccountPublicAccessBlock,sts:AssumeRole*"
    AccessDeniedTriagePrivilegedRoles    = "*Admin*,OrganizationAccountAccessRole,AWSControlTowerExecution"
    AccessDeniedTriageReconThreshold     = "15"
    AccessDeniedTriageReconWindowMinutes = "10"
    AccessDeniedTriageOwnCidrs           = ""
    AccessDeniedTriageRenotifyHours      = "24"
    AccessDeniedTriageOwnerTagKey        = "owner"
    AccessDeniedTriageRoutes             = ""
    AccessDeniedTriageCriticalTopicArn   = ""
    AccessDeniedTriageDigestTop          = "10"
    AccessDeniedTriageDryRun             = "false"
    PatchWavesOwnerTagKey                = "owner"
    PatchWavesRoutes                     = ""
    PatchWavesScanStaleDays              = "7"
    PatchWavesAl2023LatestParameter      = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    PatchWavesWaves                      = "canary,1,2"
    PatchWavesRebootOption               = "RebootIfNeeded"
    PatchWavesCommandMaxConcurrency      = "25%"
    PatchWavesCommandMaxErrors           = "0"
    PatchWavesCommandTimeoutMinutes      = "120"
    PatchWavesWaveFailurePercent         = "10"
    PatchWavesSnapshotBeforePatch        = "false"
    PatchWavesSnapshotRetentionDays      = "7"
    PatchWavesDrainTargetGroups          = ""
    PatchWavesHealthyTimeoutMinutes      = "10"
    PatchWavesBakeMinutes                = "15"
    PatchWavesFreezeWindows              = ""
    PatchWavesExemptions                 = ""
    PatchWavesDryRun                     = "false"
    # END generated: defaults
  }
}

# The MaxLength of the template's parameters that feed a function's
# environment, and whether the template takes only ASCII there. Lambda
# refuses an environment above 4 KB; these bounds keep every function's
# worst case under it (tests/tests/template/environment_size.rs adds it up),
# and the module refuses at plan what the template would refuse at deploy.
# tests/tests/terraform.rs keeps this map equal to template.yaml.
locals {
  template_max_lengths = {
    # BEGIN generated: application-max-lengths (cargo xtask gen, from xtask/src/generate/application.rs)
    SlackWebhookSecretArn = 256
    SlackWebhookParameter = 256
    # END generated: application-max-lengths
    ResultEventBus = 288
    ResultLabel    = 32
    # BEGIN generated: max-lengths (cargo xtask gen, from each function's src/config.rs)
    WafIpSetV4Arn                      = 256
    WafIpSetV6Arn                      = 256
    WafCountActions                    = 64
    WafCountLabels                     = 128
    WafCountRules                      = 128
    WafIgnoreUriSuffixes               = 128
    WafUriRules                        = 512
    WafAllowCidrs                      = 1024
    RdsAlertOn                         = 64
    RdsIgnoreUsers                     = 640
    RdsIgnoreHosts                     = 640
    RdsWatchUsers                      = 640
    RdsMatchRegex                      = 512
    MaintenanceDefaultBody             = 1024
    ConfigTriageSeverityRules          = 512
    ConfigTriageExemptions             = 896
    ConfigTriageExemptionsParameter    = 256
    ConfigTriageRoutes                 = 384
    ConfigTriageCriticalTopicArn       = 320
    LogRetentionRules                  = 2048
    LogRetentionS3Prune                = 768
    LogRetentionRegions                = 512
    LogRetentionMaxApiRps              = 16
    AccessDeniedTriageRules            = 768
    AccessDeniedTriageSensitiveActions = 640
    AccessDeniedTriagePrivilegedRoles  = 192
    AccessDeniedTriageOwnCidrs         = 384
    AccessDeniedTriageRoutes           = 320
    AccessDeniedTriageCriticalTopicArn = 320
    PatchWavesRoutes                   = 320
    PatchWavesAl2023LatestParameter    = 100
    PatchWavesDrainTargetGroups        = 288
    PatchWavesFreezeWindows            = 144
    PatchWavesExemptions               = 256
    # END generated: max-lengths
  }
}
