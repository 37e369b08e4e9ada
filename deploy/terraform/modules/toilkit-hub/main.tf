# toilkit-hub in the central account, from the AWS Serverless Application
# Repository: the application's CloudFormation stack (the policy that lets
# every product account forward its reports to this account's default bus,
# the collector, its table, buckets and Athena table).

locals {
  collector = var.hub_collector

  # Every template parameter the module can set; null keeps the template's
  # default. Numbers and booleans become strings, structures JSON.
  candidate_parameters = {
    OrganizationId = var.organization_id
    SourceAccounts = join(",", var.source_accounts)
    # BEGIN generated: application-parameters (cargo xtask gen, from xtask/src/generate/application.rs)
    NamePrefix               = var.name
    SlackWebhookSecretArn    = var.slack_webhook.secret_arn
    SlackWebhookParameter    = var.slack_webhook.parameter
    AlarmTopicArn            = var.alarm_topic_arn
    FunctionLogRetentionDays = tostring(var.function_log_retention_days)
    PermissionsBoundaryArn   = var.permissions_boundary_arn
    KmsKeyArn                = var.kms_key_arn
    # END generated: application-parameters
    HistoryRetentionDays = tostring(var.history_retention_days)
    DigestSchedule       = var.digest_schedule

    # BEGIN generated: parameters: hub-collector (cargo xtask gen, from functions/hub-collector/src/config.rs)
    ExpectedIntervals     = local.collector.expected_intervals == null ? null : jsonencode(local.collector.expected_intervals)
    SilenceMarginMinutes  = tostring(local.collector.silence_margin_minutes)
    FailuresAlert         = tostring(local.collector.failures_alert)
    RenderIntervalSeconds = tostring(local.collector.render_interval_seconds)
    DashboardLinkHours    = tostring(local.collector.link_hours)
    HubDryRun             = tostring(local.collector.dry_run)
    # END generated: parameters: hub-collector
  }

  # Only what differs from the template's default (see template_defaults.tf):
  # a plan right after an apply then shows no changes.
  parameters = {
    for name, value in local.candidate_parameters : name => value
    if value != null && value != lookup(local.template_defaults, name, null)
  }

  # Lambda refuses an environment above 4 KB (names and values together).
  effective = merge(local.template_defaults, local.parameters)
  # BEGIN generated: environment (cargo xtask gen, from each function's src/config.rs)
  environment_parameters = {
    "hub-collector" = {
      EXPECTED_INTERVALS      = "ExpectedIntervals"
      SILENCE_MARGIN_MINUTES  = "SilenceMarginMinutes"
      FAILURES_ALERT          = "FailuresAlert"
      RENDER_INTERVAL_SECONDS = "RenderIntervalSeconds"
      DASHBOARD_LINK_HOURS    = "DashboardLinkHours"
      DRY_RUN                 = "HubDryRun"
    }
  }
  # END generated: environment
  # The variables set from the stack's own resources, at their longest, and
  # the webhook's.
  resource_environment = {
    "hub-collector" = (
      length("SLACK_WEBHOOK_SECRET_ARN") + length(local.effective.SlackWebhookSecretArn) +
      length("SLACK_WEBHOOK_PARAMETER") + length(local.effective.SlackWebhookParameter) +
      length("STATE_TABLE") + 255 + length("HISTORY_BUCKET") + 63 + length("DASHBOARD_BUCKET") + 63
    )
  }
  environment_bytes = {
    for function, variables in local.environment_parameters : function => (
      local.resource_environment[function] +
      sum([for variable, parameter in variables : length(variable) + length(local.effective[parameter])])
    )
  }
  overlong_parameters = [
    for name, max in local.template_max_lengths : "${name} (${length(local.parameters[name])} characters, at most ${max})"
    if length(lookup(local.parameters, name, "")) > max
  ]
  # What the template's AllowedPattern admits in the free-text settings.
  # BEGIN generated: ascii (cargo xtask gen, from each function's src/config.rs)
  ascii_parameters = ["ExpectedIntervals"]
  # END generated: ascii
  non_ascii_parameters = [
    for name in local.ascii_parameters :
    name if !can(regex("^[\\x20-\\x7E\\t\\n\\r]*$", lookup(local.parameters, name, "")))
  ]
  oversized_environments = [for function, bytes in local.environment_bytes : "${function} (${bytes} bytes)" if bytes > 4096]
}

resource "aws_serverlessapplicationrepository_cloudformation_stack" "hub" {
  name             = "${var.name}-hub"
  application_id   = var.application_id
  semantic_version = var.semantic_version
  # The application creates the collector's role (CAPABILITY_IAM), and the
  # bus, bucket and queue policies and the permissions that let EventBridge
  # invoke the collector (CAPABILITY_RESOURCE_POLICY).
  capabilities = ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]
  parameters   = local.parameters
  tags         = var.tags

  lifecycle {
    # The template's rule, caught at plan instead of at deploy.
    precondition {
      condition     = var.organization_id != null || length(var.source_accounts) > 0
      error_message = "Name who may send reports to the hub (this account's default bus): organization_id, source_accounts, or both."
    }
    precondition {
      condition     = length(local.overlong_parameters) == 0
      error_message = "These settings are longer than the template accepts: ${join(", ", local.overlong_parameters)}."
    }
    precondition {
      condition     = length(local.non_ascii_parameters) == 0
      error_message = "These settings hold characters outside printable ASCII, which the template refuses: ${join(", ", local.non_ascii_parameters)}. Write them as \\u escapes."
    }
    precondition {
      condition     = length(local.oversized_environments) == 0
      error_message = "Lambda allows 4 KB of environment variables per function; these would exceed it: ${join(", ", local.oversized_environments)}."
    }
  }
}
