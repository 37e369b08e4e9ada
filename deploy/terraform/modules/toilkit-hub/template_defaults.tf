# The default of every parameter of the hub's template, as the strings SAR
# receives. The module sends only the parameters whose value differs from
# these: the AWS provider reads a stack's parameters back without the ones
# equal to their default (hashicorp/terraform-provider-aws#16485).
# tests/tests/terraform/hub.rs keeps this map equal to deploy/hub/template.yaml.
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
    DigestSchedule       = "cron(0 8 * * ? *)"
    HistoryRetentionDays = "400"
    OrganizationId       = ""
    SourceAccounts       = ""
    # BEGIN generated: defaults (cargo xtask gen, from each function's src/config.rs)
    ExpectedIntervals     = ""
    SilenceMarginMinutes  = "60"
    FailuresAlert         = "3"
    RenderIntervalSeconds = "300"
    DashboardLinkHours    = "24"
    HubDryRun             = "false"
    # END generated: defaults
  }

  # The MaxLength of the template's parameters, refused at plan as the
  # template would refuse them at deploy.
  template_max_lengths = {
    # BEGIN generated: application-max-lengths (cargo xtask gen, from xtask/src/generate/application.rs)
    SlackWebhookSecretArn = 256
    SlackWebhookParameter = 256
    # END generated: application-max-lengths
    SourceAccounts = 1299
    # BEGIN generated: max-lengths (cargo xtask gen, from each function's src/config.rs)
    ExpectedIntervals = 1024
    # END generated: max-lengths
  }
}
