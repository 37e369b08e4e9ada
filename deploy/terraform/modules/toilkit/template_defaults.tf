# The default of every parameter of the application's template, as the
# strings SAR receives. The module sends only the parameters whose value
# differs from these: the AWS provider reads a stack's parameters back without
# the ones equal to their default (hashicorp/terraform-provider-aws#16485), so
# sending a default would show a change on every plan and fail the next apply
# with "didn't contain changes". tests/tests/terraform.rs keeps this map equal
# to template.yaml.
locals {
  template_defaults = {
    AlarmTopicArn                        = ""
    ConfigTriageAggregatorName           = ""
    ConfigTriageCriticalTopicArn         = ""
    ConfigTriageDigestOldest             = "10"
    ConfigTriageDigestSchedule           = "cron(0 8 ? * MON-FRI *)"
    ConfigTriageDryRun                   = "false"
    ConfigTriageExemptions               = ""
    ConfigTriageExemptionsParameter      = ""
    ConfigTriageOwnerTagKey              = "owner"
    ConfigTriageRenotifyHours            = "24"
    ConfigTriageRouteSecretPrefix        = ""
    ConfigTriageRoutes                   = ""
    ConfigTriageSeverityRules            = ""
    EnableConfigTriage                   = "false"
    EnableLogRetention                   = "false"
    EnableMaintenanceSwitch              = "false"
    EnableRdsAuditNotifier               = "false"
    EnableWafIpBlocker                   = "false"
    FunctionLogRetentionDays             = "90"
    KmsKeyArn                            = ""
    LogRetentionDays                     = "30"
    LogRetentionDeleteEmptyAfterDays     = ""
    LogRetentionDryRun                   = "false"
    LogRetentionExemptTagKey             = "toilkit:keep"
    LogRetentionMaxApiRps                = "5"
    LogRetentionMaxGroupDeletionsPerRun  = "50"
    LogRetentionMaxObjectDeletionsPerRun = "100000"
    LogRetentionOnCreateLogGroup         = "true"
    LogRetentionOverrideExisting         = "false"
    LogRetentionPruneBuckets             = ""
    LogRetentionRegions                  = ""
    LogRetentionRules                    = ""
    LogRetentionS3Prune                  = ""
    LogRetentionSchedule                 = "rate(1 day)"
    MaintenanceDefaultBody               = ""
    MaintenanceDefaultMode               = "fixed-response"
    MaintenanceDefaultStatusCode         = "503"
    MaintenanceLoadBalancerNames         = ""
    MaintenanceNotifyTopicArn            = ""
    NamePrefix                           = "toilkit"
    PermissionsBoundaryArn               = ""
    RdsAlertOn                           = "ddl,account,failed_login"
    RdsAuditLogGroupName                 = ""
    RdsIgnoreHosts                       = ""
    RdsIgnoreUsers                       = "rdsadmin"
    RdsMatchRegex                        = ""
    RdsWatchUsers                        = ""
    ResultEventBus                       = ""
    ResultEventForwardBusArn             = ""
    SlackWebhookParameter                = ""
    SlackWebhookSecretArn                = ""
    WafAggregateMin                      = "10"
    WafAggregateV4Prefix                 = ""
    WafAllowCidrs                        = ""
    WafBlockMinutes                      = "240"
    WafClientIpHeader                    = ""
    WafClientIpHop                       = "1"
    WafCountActions                      = "ALLOW,BLOCK,COUNT,CAPTCHA,CHALLENGE"
    WafCountLabels                       = ""
    WafCountRules                        = ""
    WafDryRun                            = "false"
    WafIgnoreUriSuffixes                 = ""
    WafIpSetV4Arn                        = ""
    WafIpSetV6Arn                        = ""
    WafLogBucketName                     = ""
    WafLogBucketTrigger                  = "eventbridge"
    WafLogGroupName                      = ""
    WafLogKeyPrefix                      = ""
    WafMaxNewBlocksPerRun                = "1000"
    WafSchedule                          = "rate(5 minutes)"
    WafThreshold                         = "100"
    WafUriRules                          = ""
    WafWindowSeconds                     = "300"
  }
}

# The MaxLength of the template's parameters that feed a function's
# environment, and whether the template takes only ASCII there. Lambda
# refuses an environment above 4 KB; these bounds keep every function's
# worst case under it (tests/tests/template.rs adds it up), and the module
# refuses at plan what the template would refuse at deploy.
# tests/tests/terraform.rs keeps this map equal to template.yaml.
locals {
  template_max_lengths = {
    ConfigTriageCriticalTopicArn    = 320
    ConfigTriageExemptions          = 896
    ConfigTriageExemptionsParameter = 256
    ConfigTriageRoutes              = 384
    ConfigTriageSeverityRules       = 512
    LogRetentionMaxApiRps           = 16
    LogRetentionRegions             = 512
    LogRetentionRules               = 2048
    LogRetentionS3Prune             = 768
    MaintenanceDefaultBody          = 1024
    RdsAlertOn                      = 64
    RdsIgnoreHosts                  = 640
    RdsIgnoreUsers                  = 640
    RdsMatchRegex                   = 512
    RdsWatchUsers                   = 640
    ResultEventBus                  = 320
    SlackWebhookParameter           = 256
    SlackWebhookSecretArn           = 256
    WafAllowCidrs                   = 1024
    WafCountActions                 = 64
    WafCountLabels                  = 128
    WafCountRules                   = 128
    WafIgnoreUriSuffixes            = 128
    WafIpSetV4Arn                   = 256
    WafIpSetV6Arn                   = 256
    WafUriRules                     = 512
  }
}
