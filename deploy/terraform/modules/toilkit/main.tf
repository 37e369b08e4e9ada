# toilkit in one product account, from the AWS Serverless Application
# Repository: the application's CloudFormation stack, plus what belongs to the
# account rather than to the application (the WAF IP sets, if asked for, and
# the subscription filters of the RDS log groups).

locals {
  waf         = var.waf_ip_blocker
  rds         = var.rds_audit_notifier
  maintenance = var.maintenance_switch
  config      = var.config_triage
  logs        = var.log_retention
  denied      = var.access_denied_triage
  patch       = var.patch_waves

  ipset_v4_arn = local.waf.create_ip_sets ? aws_wafv2_ip_set.blocked["v4"].arn : local.waf.ipset_v4_arn
  ipset_v6_arn = local.waf.create_ip_sets ? aws_wafv2_ip_set.blocked["v6"].arn : local.waf.ipset_v6_arn

  # The buckets the function may prune are exactly the buckets of s3_prune.
  prune_buckets = distinct([for p in coalesce(local.logs.s3_prune, []) : p.bucket])

  # Every template parameter the module can set; null keeps the template's
  # default. Lists become comma-separated strings, structures JSON (null
  # attributes left out), booleans "true"/"false".
  candidate_parameters = {
    # BEGIN generated: application-parameters (cargo xtask gen, from xtask/src/generate/application.rs)
    NamePrefix               = var.name
    SlackWebhookSecretArn    = var.slack_webhook.secret_arn
    SlackWebhookParameter    = var.slack_webhook.parameter
    AlarmTopicArn            = var.alarm_topic_arn
    FunctionLogRetentionDays = tostring(var.function_log_retention_days)
    PermissionsBoundaryArn   = var.permissions_boundary_arn
    KmsKeyArn                = var.kms_key_arn
    # END generated: application-parameters
    ResultEventBus           = var.result_event_bus
    ResultLabel              = var.result_label
    ResultEventForwardBusArn = var.result_event_forward_bus_arn

    EnableWafIpBlocker  = tostring(local.waf.enabled)
    WafIpSetV4Arn       = local.ipset_v4_arn
    WafIpSetV6Arn       = local.ipset_v6_arn
    WafLogBucketName    = local.waf.log_bucket_name
    WafLogKeyPrefix     = local.waf.log_key_prefix
    WafLogBucketTrigger = local.waf.log_bucket_trigger
    WafLogGroupName     = local.waf.log_group_name
    WafSchedule         = local.waf.schedule
    # BEGIN generated: parameters: waf-ip-blocker (cargo xtask gen, from functions/waf-ip-blocker/src/config.rs)
    WafThreshold          = tostring(local.waf.threshold)
    WafWindowSeconds      = tostring(local.waf.window_seconds)
    WafCountActions       = local.waf.count_actions == null ? null : join(",", local.waf.count_actions)
    WafCountLabels        = local.waf.count_labels == null ? null : join(",", local.waf.count_labels)
    WafCountRules         = local.waf.count_rules == null ? null : join(",", local.waf.count_rules)
    WafIgnoreUriSuffixes  = local.waf.ignore_uri_suffixes == null ? null : join(",", local.waf.ignore_uri_suffixes)
    WafUriRules           = local.waf.uri_rules == null ? null : jsonencode([for r in local.waf.uri_rules : { for k, v in r : k => v if v != null }])
    WafClientIpHeader     = local.waf.client_ip_header
    WafClientIpHop        = tostring(local.waf.client_ip_hop)
    WafBlockMinutes       = tostring(local.waf.block_minutes)
    WafAggregateV4Prefix  = tostring(local.waf.aggregate_v4_prefix)
    WafAggregateMin       = tostring(local.waf.aggregate_min)
    WafAllowCidrs         = local.waf.allow_cidrs == null ? null : join(",", local.waf.allow_cidrs)
    WafMaxNewBlocksPerRun = tostring(local.waf.max_new_blocks_per_run)
    WafDryRun             = tostring(local.waf.dry_run)
    # END generated: parameters: waf-ip-blocker

    EnableRdsAuditNotifier = tostring(local.rds.enabled)
    # BEGIN generated: parameters: rds-audit-notifier (cargo xtask gen, from functions/rds-audit-notifier/src/config.rs)
    RdsAlertOn     = local.rds.alert_on == null ? null : join(",", local.rds.alert_on)
    RdsIgnoreUsers = local.rds.ignore_users == null ? null : join(",", local.rds.ignore_users)
    RdsIgnoreHosts = local.rds.ignore_hosts == null ? null : join(",", local.rds.ignore_hosts)
    RdsWatchUsers  = local.rds.watch_users == null ? null : join(",", local.rds.watch_users)
    RdsMatchRegex  = local.rds.match_regex
    # END generated: parameters: rds-audit-notifier

    EnableMaintenanceSwitch      = tostring(local.maintenance.enabled)
    MaintenanceLoadBalancerNames = local.maintenance.load_balancer_names
    MaintenanceNotifyTopicArn    = local.maintenance.notify_topic_arn
    # BEGIN generated: parameters: maintenance-switch (cargo xtask gen, from functions/maintenance-switch/src/config.rs)
    MaintenanceDefaultBody       = local.maintenance.default_body
    MaintenanceDefaultStatusCode = tostring(local.maintenance.default_status_code)
    MaintenanceDefaultMode       = local.maintenance.default_mode
    # END generated: parameters: maintenance-switch

    EnableConfigTriage            = tostring(local.config.enabled)
    ConfigTriageDigestSchedule    = local.config.digest_schedule
    ConfigTriageRouteSecretPrefix = local.config.route_secret_prefix
    # BEGIN generated: parameters: config-triage (cargo xtask gen, from functions/config-triage/src/config.rs)
    ConfigTriageSeverityRules       = local.config.severity_rules == null ? null : jsonencode([for r in local.config.severity_rules : { for k, v in r : k => v if v != null }])
    ConfigTriageExemptions          = local.config.exemptions == null ? null : jsonencode([for r in local.config.exemptions : { for k, v in r : k => v if v != null }])
    ConfigTriageExemptionsParameter = local.config.exemptions_parameter
    ConfigTriageRenotifyHours       = tostring(local.config.renotify_hours)
    ConfigTriageOwnerTagKey         = local.config.owner_tag_key
    ConfigTriageRoutes              = local.config.routes == null ? null : jsonencode(local.config.routes)
    ConfigTriageCriticalTopicArn    = local.config.critical_topic_arn
    ConfigTriageAggregatorName      = local.config.aggregator_name
    ConfigTriageDigestOldest        = tostring(local.config.digest_oldest)
    ConfigTriageDryRun              = tostring(local.config.dry_run)
    # END generated: parameters: config-triage

    EnableLogRetention           = tostring(local.logs.enabled)
    LogRetentionSchedule         = local.logs.schedule
    LogRetentionOnCreateLogGroup = tostring(local.logs.on_create_log_group)
    LogRetentionPruneBuckets     = length(local.prune_buckets) == 0 ? null : join(",", local.prune_buckets)
    # BEGIN generated: parameters: log-retention (cargo xtask gen, from functions/log-retention/src/config.rs)
    LogRetentionDays                     = tostring(local.logs.retention_days)
    LogRetentionRules                    = local.logs.rules == null ? null : jsonencode([for r in local.logs.rules : { for k, v in r : k => v if v != null }])
    LogRetentionOverrideExisting         = tostring(local.logs.override_existing)
    LogRetentionExemptTagKey             = local.logs.exempt_tag_key
    LogRetentionDeleteEmptyAfterDays     = tostring(local.logs.delete_empty_after_days)
    LogRetentionS3Prune                  = local.logs.s3_prune == null ? null : jsonencode([for r in local.logs.s3_prune : { for k, v in r : k => v if v != null }])
    LogRetentionMaxGroupDeletionsPerRun  = tostring(local.logs.max_group_deletions_per_run)
    LogRetentionMaxObjectDeletionsPerRun = tostring(local.logs.max_object_deletions_per_run)
    LogRetentionRegions                  = local.logs.regions == null ? null : join(",", local.logs.regions)
    LogRetentionDryRun                   = tostring(local.logs.dry_run)
    LogRetentionMaxApiRps                = tostring(local.logs.max_api_rps)
    # END generated: parameters: log-retention

    EnableAccessDeniedTriage            = tostring(local.denied.enabled)
    AccessDeniedTriageDigestSchedule    = local.denied.digest_schedule
    AccessDeniedTriageTrailLogGroupName = local.denied.trail_log_group_name
    AccessDeniedTriageRouteSecretPrefix = local.denied.route_secret_prefix
    # BEGIN generated: parameters: access-denied-triage (cargo xtask gen, from functions/access-denied-triage/src/config.rs)
    AccessDeniedTriageRules              = local.denied.rules == null ? null : jsonencode([for r in local.denied.rules : { for k, v in r : k => v if v != null }])
    AccessDeniedTriageSensitiveActions   = local.denied.sensitive_actions == null ? null : join(",", local.denied.sensitive_actions)
    AccessDeniedTriagePrivilegedRoles    = local.denied.privileged_roles == null ? null : join(",", local.denied.privileged_roles)
    AccessDeniedTriageReconThreshold     = tostring(local.denied.recon_threshold)
    AccessDeniedTriageReconWindowMinutes = tostring(local.denied.recon_window_minutes)
    AccessDeniedTriageOwnCidrs           = local.denied.own_cidrs == null ? null : join(",", local.denied.own_cidrs)
    AccessDeniedTriageRenotifyHours      = tostring(local.denied.renotify_hours)
    AccessDeniedTriageOwnerTagKey        = local.denied.owner_tag_key
    AccessDeniedTriageRoutes             = local.denied.routes == null ? null : jsonencode(local.denied.routes)
    AccessDeniedTriageCriticalTopicArn   = local.denied.critical_topic_arn
    AccessDeniedTriageDigestTop          = tostring(local.denied.digest_top)
    AccessDeniedTriageDryRun             = tostring(local.denied.dry_run)
    # END generated: parameters: access-denied-triage

    EnablePatchWaves            = tostring(local.patch.enabled)
    PatchWavesReportSchedule    = local.patch.report_schedule
    EnablePatchWavesRollout     = tostring(local.patch.rollout_enabled)
    PatchWavesRouteSecretPrefix = local.patch.route_secret_prefix
    # BEGIN generated: parameters: patch-waves (cargo xtask gen, from functions/patch-waves/src/config.rs)
    PatchWavesOwnerTagKey           = local.patch.owner_tag_key
    PatchWavesRoutes                = local.patch.routes == null ? null : jsonencode(local.patch.routes)
    PatchWavesScanStaleDays         = tostring(local.patch.scan_stale_days)
    PatchWavesAl2023LatestParameter = local.patch.al2023_latest_parameter
    PatchWavesWaves                 = local.patch.waves == null ? null : join(",", local.patch.waves)
    PatchWavesRebootOption          = local.patch.reboot_option
    PatchWavesCommandMaxConcurrency = local.patch.command_max_concurrency
    PatchWavesCommandMaxErrors      = local.patch.command_max_errors
    PatchWavesCommandTimeoutMinutes = tostring(local.patch.command_timeout_minutes)
    PatchWavesWaveFailurePercent    = tostring(local.patch.wave_failure_percent)
    PatchWavesSnapshotBeforePatch   = tostring(local.patch.snapshot_before_patch)
    PatchWavesSnapshotRetentionDays = tostring(local.patch.snapshot_retention_days)
    PatchWavesDrainTargetGroups     = local.patch.drain_target_groups == null ? null : join(",", local.patch.drain_target_groups)
    PatchWavesHealthyTimeoutMinutes = tostring(local.patch.healthy_timeout_minutes)
    PatchWavesBakeMinutes           = tostring(local.patch.bake_minutes)
    PatchWavesFreezeWindows         = local.patch.freeze_windows == null ? null : jsonencode(local.patch.freeze_windows)
    PatchWavesExemptions            = local.patch.exemptions == null ? null : jsonencode([for r in local.patch.exemptions : { for k, v in r : k => v if v != null }])
    PatchWavesDryRun                = tostring(local.patch.dry_run)
    # END generated: parameters: patch-waves
  }

  # Only what differs from the template's default (see template_defaults.tf):
  # a plan right after an apply then shows no changes.
  parameters = {
    for name, value in local.candidate_parameters : name => value
    if value != null && value != lookup(local.template_defaults, name, null)
  }

  # Lambda refuses an environment above 4 KB (names and values together).
  # What each function's variables come from: a parameter, or a resource of
  # the stack (counted at its longest: a table name, a state machine ARN).
  effective = merge(local.template_defaults, local.parameters)
  # BEGIN generated: environment (cargo xtask gen, from each function's src/config.rs)
  environment_parameters = {
    "waf-ip-blocker" = {
      IPSET_V4_ARN           = "WafIpSetV4Arn"
      IPSET_V6_ARN           = "WafIpSetV6Arn"
      THRESHOLD              = "WafThreshold"
      WINDOW_SECONDS         = "WafWindowSeconds"
      COUNT_ACTIONS          = "WafCountActions"
      COUNT_LABELS           = "WafCountLabels"
      COUNT_RULES            = "WafCountRules"
      IGNORE_URI_SUFFIXES    = "WafIgnoreUriSuffixes"
      URI_RULES              = "WafUriRules"
      CLIENT_IP_HEADER       = "WafClientIpHeader"
      CLIENT_IP_HOP          = "WafClientIpHop"
      BLOCK_MINUTES          = "WafBlockMinutes"
      AGGREGATE_V4_PREFIX    = "WafAggregateV4Prefix"
      AGGREGATE_MIN          = "WafAggregateMin"
      ALLOW_CIDRS            = "WafAllowCidrs"
      MAX_NEW_BLOCKS_PER_RUN = "WafMaxNewBlocksPerRun"
      DRY_RUN                = "WafDryRun"
    }
    "rds-audit-notifier" = {
      ALERT_ON     = "RdsAlertOn"
      IGNORE_USERS = "RdsIgnoreUsers"
      IGNORE_HOSTS = "RdsIgnoreHosts"
      WATCH_USERS  = "RdsWatchUsers"
      MATCH_REGEX  = "RdsMatchRegex"
    }
    "maintenance-switch" = {
      DEFAULT_BODY        = "MaintenanceDefaultBody"
      DEFAULT_STATUS_CODE = "MaintenanceDefaultStatusCode"
      DEFAULT_MODE        = "MaintenanceDefaultMode"
    }
    "config-triage" = {
      SEVERITY_RULES       = "ConfigTriageSeverityRules"
      EXEMPTIONS           = "ConfigTriageExemptions"
      EXEMPTIONS_PARAMETER = "ConfigTriageExemptionsParameter"
      RENOTIFY_HOURS       = "ConfigTriageRenotifyHours"
      OWNER_TAG_KEY        = "ConfigTriageOwnerTagKey"
      ROUTES               = "ConfigTriageRoutes"
      CRITICAL_TOPIC_ARN   = "ConfigTriageCriticalTopicArn"
      AGGREGATOR_NAME      = "ConfigTriageAggregatorName"
      DIGEST_OLDEST        = "ConfigTriageDigestOldest"
      DRY_RUN              = "ConfigTriageDryRun"
    }
    "log-retention" = {
      RETENTION_DAYS               = "LogRetentionDays"
      RETENTION_RULES              = "LogRetentionRules"
      OVERRIDE_EXISTING            = "LogRetentionOverrideExisting"
      EXEMPT_TAG_KEY               = "LogRetentionExemptTagKey"
      DELETE_EMPTY_AFTER_DAYS      = "LogRetentionDeleteEmptyAfterDays"
      S3_PRUNE                     = "LogRetentionS3Prune"
      MAX_GROUP_DELETIONS_PER_RUN  = "LogRetentionMaxGroupDeletionsPerRun"
      MAX_OBJECT_DELETIONS_PER_RUN = "LogRetentionMaxObjectDeletionsPerRun"
      REGIONS                      = "LogRetentionRegions"
      DRY_RUN                      = "LogRetentionDryRun"
      MAX_API_RPS                  = "LogRetentionMaxApiRps"
    }
    "access-denied-triage" = {
      RULES                = "AccessDeniedTriageRules"
      SENSITIVE_ACTIONS    = "AccessDeniedTriageSensitiveActions"
      PRIVILEGED_ROLES     = "AccessDeniedTriagePrivilegedRoles"
      RECON_THRESHOLD      = "AccessDeniedTriageReconThreshold"
      RECON_WINDOW_MINUTES = "AccessDeniedTriageReconWindowMinutes"
      OWN_CIDRS            = "AccessDeniedTriageOwnCidrs"
      RENOTIFY_HOURS       = "AccessDeniedTriageRenotifyHours"
      OWNER_TAG_KEY        = "AccessDeniedTriageOwnerTagKey"
      ROUTES               = "AccessDeniedTriageRoutes"
      CRITICAL_TOPIC_ARN   = "AccessDeniedTriageCriticalTopicArn"
      DIGEST_TOP           = "AccessDeniedTriageDigestTop"
      DRY_RUN              = "AccessDeniedTriageDryRun"
    }
    "patch-waves" = {
      OWNER_TAG_KEY           = "PatchWavesOwnerTagKey"
      ROUTES                  = "PatchWavesRoutes"
      SCAN_STALE_DAYS         = "PatchWavesScanStaleDays"
      AL2023_LATEST_PARAMETER = "PatchWavesAl2023LatestParameter"
      WAVES                   = "PatchWavesWaves"
      REBOOT_OPTION           = "PatchWavesRebootOption"
      COMMAND_MAX_CONCURRENCY = "PatchWavesCommandMaxConcurrency"
      COMMAND_MAX_ERRORS      = "PatchWavesCommandMaxErrors"
      COMMAND_TIMEOUT_MINUTES = "PatchWavesCommandTimeoutMinutes"
      WAVE_FAILURE_PERCENT    = "PatchWavesWaveFailurePercent"
      SNAPSHOT_BEFORE_PATCH   = "PatchWavesSnapshotBeforePatch"
      SNAPSHOT_RETENTION_DAYS = "PatchWavesSnapshotRetentionDays"
      DRAIN_TARGET_GROUPS     = "PatchWavesDrainTargetGroups"
      HEALTHY_TIMEOUT_MINUTES = "PatchWavesHealthyTimeoutMinutes"
      BAKE_MINUTES            = "PatchWavesBakeMinutes"
      FREEZE_WINDOWS          = "PatchWavesFreezeWindows"
      EXEMPTIONS              = "PatchWavesExemptions"
      DRY_RUN                 = "PatchWavesDryRun"
    }
  }
  # END generated: environment
  # Variables every function has (the Slack webhook, the result bus), and the
  # ones set from the stack's own resources, at their longest.
  # log-retention posts to no Slack, so it has no webhook variables.
  slack_environment  = length("SLACK_WEBHOOK_SECRET_ARN") + length(local.effective.SlackWebhookSecretArn) + length("SLACK_WEBHOOK_PARAMETER") + length(local.effective.SlackWebhookParameter)
  shared_environment = length("RESULT_EVENT_BUS") + length(local.effective.ResultEventBus) + length("RESULT_LABEL") + length(local.effective.ResultLabel)
  resource_environment = {
    "waf-ip-blocker"       = local.slack_environment + length("LEDGER_TABLE") + 255
    "rds-audit-notifier"   = local.slack_environment + length("IDEMPOTENCY_TABLE") + 255
    "maintenance-switch"   = local.slack_environment + length("MAINTENANCE_STATE_MACHINE_ARN") + 160
    "config-triage"        = local.slack_environment + length("STATE_TABLE") + 255
    "log-retention"        = 0
    "access-denied-triage" = local.slack_environment + length("STATE_TABLE") + 255
    "patch-waves"          = local.slack_environment + length("STATE_TABLE") + 255
  }
  environment_bytes = {
    for function, variables in local.environment_parameters : function => (
      local.shared_environment + local.resource_environment[function] +
      sum([for variable, parameter in variables : length(variable) + length(local.effective[parameter])])
    )
  }
  overlong_parameters = [
    for name, max in local.template_max_lengths : "${name} (${length(local.parameters[name])} characters, at most ${max})"
    if length(lookup(local.parameters, name, "")) > max
  ]
  # What the template's AllowedPattern admits in the free-text settings.
  # BEGIN generated: ascii (cargo xtask gen, from each function's src/config.rs)
  ascii_parameters = ["WafCountLabels", "WafCountRules", "WafIgnoreUriSuffixes", "WafUriRules", "RdsIgnoreUsers", "RdsIgnoreHosts", "RdsWatchUsers", "RdsMatchRegex", "MaintenanceDefaultBody", "ConfigTriageSeverityRules", "ConfigTriageExemptions", "ConfigTriageRoutes", "LogRetentionRules", "LogRetentionS3Prune", "AccessDeniedTriageRules", "AccessDeniedTriageRoutes", "PatchWavesRoutes", "PatchWavesFreezeWindows", "PatchWavesExemptions"]
  # END generated: ascii
  non_ascii_parameters = [
    for name in local.ascii_parameters :
    name if !can(regex("^[\\x20-\\x7E\\t\\n\\r]*$", lookup(local.parameters, name, "")))
  ]
  oversized_environments = [for function, bytes in local.environment_bytes : "${function} (${bytes} bytes)" if bytes > 4096]

  # The function ARN from names known at plan: the stack's outputs lack it
  # while the stack is being updated to switch the function on. The stack's
  # id (a CloudFormation stack ARN) gives partition, Region and account.
  stack_arn_parts = split(":", aws_serverlessapplicationrepository_cloudformation_stack.toilkit.id)
  rds_audit_notifier_arn = format(
    "arn:%s:lambda:%s:%s:function:%s-rds-audit-notifier",
    local.stack_arn_parts[1], local.stack_arn_parts[3], local.stack_arn_parts[4], var.name,
  )
}

resource "aws_serverlessapplicationrepository_cloudformation_stack" "toilkit" {
  name             = var.name
  application_id   = var.application_id
  semantic_version = var.semantic_version
  # The application creates one IAM role per function (CAPABILITY_IAM) and
  # lets EventBridge, S3 and CloudWatch Logs invoke the functions and write
  # to a queue (CAPABILITY_RESOURCE_POLICY).
  capabilities = ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]
  parameters   = local.parameters
  tags         = var.tags

  lifecycle {
    # Settings the functions check at start, caught here instead.
    precondition {
      condition     = !(local.rds.enabled || local.config.enabled || local.denied.enabled || local.patch.enabled) || var.slack_webhook.secret_arn != null || var.slack_webhook.parameter != null
      error_message = "rds_audit_notifier, config_triage, access_denied_triage and patch_waves post to Slack: set slack_webhook.secret_arn or slack_webhook.parameter."
    }
    precondition {
      condition     = var.result_event_forward_bus_arn == null || var.result_event_bus != null
      error_message = "result_event_forward_bus_arn forwards from result_event_bus: set result_event_bus to a bus name of the account (\"default\" for the default bus)."
    }
    precondition {
      condition     = length(local.overlong_parameters) == 0
      error_message = "These settings are longer than the template accepts (its MaxLength keeps each function's environment under Lambda's 4 KB): ${join(", ", local.overlong_parameters)}. Move config_triage exemptions into an SSM parameter (exemptions_parameter), aggregate allow_cidrs into wider CIDRs, or trim the setting."
    }
    precondition {
      condition     = length(local.non_ascii_parameters) == 0
      error_message = "These settings hold characters outside printable ASCII, which the template refuses (they would take up to 4 bytes each of the 4 KB environment): ${join(", ", local.non_ascii_parameters)}. Write them as \\u escapes in JSON settings, or HTML entities in default_body."
    }
    precondition {
      condition     = length(local.oversized_environments) == 0
      error_message = "Lambda allows 4 KB of environment variables per function; these would exceed it: ${join(", ", local.oversized_environments)}. Shorten the longest settings (aggregate allow_cidrs into wider CIDRs; move config_triage exemptions into an SSM parameter, exemptions_parameter)."
    }
  }
}

data "aws_region" "current" {}

# The sets start empty; waf-ip-blocker owns their contents, so Terraform
# never resets the addresses it added.
resource "aws_wafv2_ip_set" "blocked" {
  for_each = local.waf.create_ip_sets ? { v4 = "IPV4", v6 = "IPV6" } : {}

  name               = "${var.name}-blocked-${each.key}"
  description        = "Addresses blocked by toilkit waf-ip-blocker; reference it from a block rule of your web ACL."
  scope              = local.waf.ip_set_scope
  ip_address_version = each.value
  addresses          = []
  tags               = var.tags

  lifecycle {
    ignore_changes = [addresses]
    precondition {
      condition     = local.waf.ip_set_scope != "CLOUDFRONT" || data.aws_region.current.name == "us-east-1"
      error_message = "waf_ip_blocker.ip_set_scope = \"CLOUDFRONT\" needs the provider in us-east-1 (CloudFront IP sets exist only there); this one is in ${data.aws_region.current.name}."
    }
  }
}

# The application lets any /aws/rds/* group of the account deliver to the
# function; each group gets its own subscription filter here.
resource "aws_cloudwatch_log_subscription_filter" "rds_audit" {
  for_each = local.rds.enabled ? toset(local.rds.log_group_names) : toset([])

  name            = "${var.name}-rds-audit-notifier"
  log_group_name  = each.value
  filter_pattern  = ""
  destination_arn = local.rds_audit_notifier_arn

  # The stack (and so the function and its permission for /aws/rds/*) is
  # created or updated first.
  depends_on = [aws_serverlessapplicationrepository_cloudformation_stack.toilkit]
}
