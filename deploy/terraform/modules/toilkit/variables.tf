# Inputs of the toilkit module. Each function has one object variable; its
# attributes are the function's settings (see functions/<name>/README.md), and
# an attribute left null keeps the application's default. The module turns
# them into the SAR application's parameters.

# --- The application --------------------------------------------------------

variable "application_id" {
  description = "ARN of the toilkit application in the AWS Serverless Application Repository (from `sam publish`), e.g. arn:aws:serverlessrepo:eu-west-1:111122223333:applications/toilkit."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:serverlessrepo:[a-z0-9-]+:[0-9]{12}:applications/[A-Za-z0-9_-]+$", var.application_id))
    error_message = "application_id must be a Serverless Application Repository application ARN (arn:aws:serverlessrepo:<region>:<account>:applications/<name>)."
  }
}

variable "semantic_version" {
  description = "Version of the application to deploy, e.g. 0.1.0. Pin it: a new version is a deliberate upgrade."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.semantic_version))
    error_message = "semantic_version must be MAJOR.MINOR.PATCH, e.g. 0.1.0."
  }
}

variable "tags" {
  description = "Tags for the CloudFormation stack (CloudFormation passes them on to the resources it creates)."
  type        = map(string)
  default     = {}
}

# --- Shared settings -------------------------------------------------------

# BEGIN generated: application-variables (cargo xtask gen, from xtask/src/generate/application.rs)
variable "name" {
  description = "Name of the deployment: the CloudFormation stack is serverlessrepo-<name>, and every named resource (functions, log groups, queues, alarms, rules) starts with <name>-."
  type        = string
  default     = "toilkit"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name must be 2 to 20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "slack_webhook" {
  description = "Where the Slack incoming-webhook URL is stored, for every function that posts to Slack: a Secrets Manager secret ARN or an SSM SecureString parameter name (one of them). The URL itself never goes into Terraform."
  type = object({
    secret_arn = optional(string)
    parameter  = optional(string)
  })
  default = {}

  validation {
    condition     = var.slack_webhook.secret_arn == null || var.slack_webhook.parameter == null
    error_message = "Set slack_webhook.secret_arn or slack_webhook.parameter, not both."
  }
  validation {
    condition     = var.slack_webhook.secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$", var.slack_webhook.secret_arn))
    error_message = "slack_webhook.secret_arn must be a Secrets Manager secret ARN."
  }
  validation {
    condition     = var.slack_webhook.parameter == null || can(regex("^/[A-Za-z0-9_.\\-/]{1,255}$", var.slack_webhook.parameter))
    error_message = "slack_webhook.parameter must be an SSM parameter name starting with \"/\"."
  }
}

variable "alarm_topic_arn" {
  description = "Optional SNS topic ARN for the alarms (function errors, dead letters, failed maintenance windows)."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN."
  }
}

variable "function_log_retention_days" {
  description = "Retention of the functions' own log groups, in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.function_log_retention_days)
    error_message = "function_log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary (IAM policy ARN) attached to every role the application creates."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/[A-Za-z0-9+=,.@_/-]+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM managed policy ARN."
  }
}

variable "kms_key_arn" {
  description = "Optional customer-managed KMS key (ARN) for the queues (dead letters hold raw events), the tables and the functions' log groups. Its key policy must let the account's roles, logs.<region>.amazonaws.com and events.amazonaws.com use it (see the README)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,64}$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (not an alias)."
  }
}
# END generated: application-variables

variable "result_event_bus" {
  description = "Optional EventBridge bus that receives every report (source \"toilkit\"): the name of a bus in the account, or the ARN of a central bus of the platform account."
  type        = string
  default     = null

  validation {
    condition     = var.result_event_bus == null || can(regex("^[A-Za-z0-9._-]{1,256}$|^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._/-]{1,256}$", var.result_event_bus))
    error_message = "result_event_bus must be an event bus name or an EventBridge event bus ARN."
  }
}

variable "result_label" {
  description = "Optional product or environment (e.g. \"payments-prod\") named in every result event, so results from many accounts can be told apart."
  type        = string
  default     = null

  validation {
    condition     = var.result_label == null || can(regex("^$|^[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,31}$", var.result_label))
    error_message = "result_label must be up to 32 letters, digits and ._:/+=@- starting with a letter or digit."
  }
}

variable "result_event_forward_bus_arn" {
  description = "Optional ARN of a central EventBridge bus (usually another account's) that receives every report: the stack adds a rule on result_event_bus that forwards source \"toilkit\" events there, with a role. The central bus's policy must allow the account (see the README)."
  type        = string
  default     = null

  validation {
    condition     = var.result_event_forward_bus_arn == null || can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._/-]{1,256}$", var.result_event_forward_bus_arn))
    error_message = "result_event_forward_bus_arn must be an EventBridge event bus ARN."
  }
}

# --- waf-ip-blocker ----------------------------------------------------------

variable "waf_ip_blocker" {
  description = "waf-ip-blocker: blocks attacking IPs in AWS WAF from its logs. Set create_ip_sets, or give the IP set ARNs of sets attached to your web ACL."
  type = object({
    enabled            = optional(bool, false)
    create_ip_sets     = optional(bool, false)
    ip_set_scope       = optional(string, "REGIONAL")
    ipset_v4_arn       = optional(string)
    ipset_v6_arn       = optional(string)
    log_bucket_name    = optional(string)
    log_key_prefix     = optional(string)
    log_bucket_trigger = optional(string)
    log_group_name     = optional(string)
    schedule           = optional(string)
    # BEGIN generated: attributes: waf-ip-blocker (cargo xtask gen, from functions/waf-ip-blocker/src/config.rs)
    threshold           = optional(number)
    window_seconds      = optional(number)
    count_actions       = optional(list(string))
    count_labels        = optional(list(string))
    count_rules         = optional(list(string))
    ignore_uri_suffixes = optional(list(string))
    uri_rules = optional(list(object({
      path      = string
      threshold = optional(number)
      ignore    = optional(bool)
    })))
    client_ip_header       = optional(string)
    client_ip_hop          = optional(number)
    block_minutes          = optional(number)
    aggregate_v4_prefix    = optional(number)
    aggregate_min          = optional(number)
    allow_cidrs            = optional(list(string))
    max_new_blocks_per_run = optional(number)
    dry_run                = optional(bool)
    # END generated: attributes: waf-ip-blocker
  })
  default = {}

  # BEGIN generated: validations: waf-ip-blocker (cargo xtask gen, from functions/waf-ip-blocker/src/config.rs)
  validation {
    condition     = var.waf_ip_blocker.threshold == null || try(can(regex("^[0-9]+$", tostring(var.waf_ip_blocker.threshold))) && var.waf_ip_blocker.threshold >= 1 && var.waf_ip_blocker.threshold <= 999999999, false)
    error_message = "waf_ip_blocker.threshold must be a whole number from 1 to 999999999."
  }
  validation {
    condition     = var.waf_ip_blocker.window_seconds == null || try(can(regex("^[0-9]+$", tostring(var.waf_ip_blocker.window_seconds))) && var.waf_ip_blocker.window_seconds >= 60 && var.waf_ip_blocker.window_seconds <= 86400, false)
    error_message = "waf_ip_blocker.window_seconds must be a whole number from 60 to 86400."
  }
  validation {
    condition     = var.waf_ip_blocker.count_actions == null || try(can(regex("^(?:^$|^(ALLOW|BLOCK|COUNT|CAPTCHA|CHALLENGE)(,(ALLOW|BLOCK|COUNT|CAPTCHA|CHALLENGE))*$)$", var.waf_ip_blocker.count_actions == null ? null : join(",", var.waf_ip_blocker.count_actions))), false)
    error_message = "waf_ip_blocker.count_actions must be a comma-separated list of ALLOW, BLOCK, COUNT, CAPTCHA, CHALLENGE."
  }
  validation {
    condition     = var.waf_ip_blocker.count_labels == null || try(can(regex("^(?:^[\\x20-\\x7E]*$)$", var.waf_ip_blocker.count_labels == null ? null : join(",", var.waf_ip_blocker.count_labels))), false)
    error_message = "waf_ip_blocker.count_labels must be printable ASCII on one line (no tabs or line breaks), within MaxLength so the function environment stays under the 4 KB Lambda allows."
  }
  validation {
    condition     = var.waf_ip_blocker.count_rules == null || try(can(regex("^(?:^[\\x20-\\x7E]*$)$", var.waf_ip_blocker.count_rules == null ? null : join(",", var.waf_ip_blocker.count_rules))), false)
    error_message = "waf_ip_blocker.count_rules must be printable ASCII on one line (no tabs or line breaks), within MaxLength so the function environment stays under the 4 KB Lambda allows."
  }
  validation {
    condition     = var.waf_ip_blocker.ignore_uri_suffixes == null || try(can(regex("^(?:^[\\x20-\\x7E]*$)$", var.waf_ip_blocker.ignore_uri_suffixes == null ? null : join(",", var.waf_ip_blocker.ignore_uri_suffixes))), false)
    error_message = "waf_ip_blocker.ignore_uri_suffixes must be printable ASCII on one line (no tabs or line breaks), within MaxLength so the function environment stays under the 4 KB Lambda allows."
  }
  validation {
    condition     = var.waf_ip_blocker.client_ip_header == null || try(can(regex("^(?:^$|^[A-Za-z0-9-]{1,128}$)$", var.waf_ip_blocker.client_ip_header)), false)
    error_message = "waf_ip_blocker.client_ip_header must be empty, or an HTTP header name."
  }
  validation {
    condition     = var.waf_ip_blocker.client_ip_hop == null || try(can(regex("^[0-9]+$", tostring(var.waf_ip_blocker.client_ip_hop))) && var.waf_ip_blocker.client_ip_hop >= 1 && var.waf_ip_blocker.client_ip_hop <= 32, false)
    error_message = "waf_ip_blocker.client_ip_hop must be a whole number from 1 to 32."
  }
  validation {
    condition     = var.waf_ip_blocker.block_minutes == null || try(can(regex("^[0-9]+$", tostring(var.waf_ip_blocker.block_minutes))) && var.waf_ip_blocker.block_minutes >= 1 && var.waf_ip_blocker.block_minutes <= 5256000, false)
    error_message = "waf_ip_blocker.block_minutes must be a whole number from 1 to 5256000."
  }
  validation {
    condition     = var.waf_ip_blocker.aggregate_v4_prefix == null || try(can(regex("^(?:^$|^(8|9|[12][0-9]|3[01])$)$", tostring(var.waf_ip_blocker.aggregate_v4_prefix))), false)
    error_message = "waf_ip_blocker.aggregate_v4_prefix must be empty, or an IPv4 prefix length from 8 to 31."
  }
  validation {
    condition     = var.waf_ip_blocker.aggregate_min == null || try(can(regex("^[0-9]+$", tostring(var.waf_ip_blocker.aggregate_min))) && var.waf_ip_blocker.aggregate_min >= 2 && var.waf_ip_blocker.aggregate_min <= 999999999, false)
    error_message = "waf_ip_blocker.aggregate_min must be a whole number from 2 to 999999999."
  }
  validation {
    condition     = var.waf_ip_blocker.allow_cidrs == null || try(can(regex("^(?:^[0-9A-Fa-f:./, ]*$)$", var.waf_ip_blocker.allow_cidrs == null ? null : join(",", var.waf_ip_blocker.allow_cidrs))), false)
    error_message = "waf_ip_blocker.allow_cidrs must be comma-separated IPv4/IPv6 CIDRs, at most 1024 characters (aggregate into wider CIDRs; the environment is limited to 4 KB)."
  }
  validation {
    condition     = var.waf_ip_blocker.max_new_blocks_per_run == null || try(can(regex("^[0-9]+$", tostring(var.waf_ip_blocker.max_new_blocks_per_run))) && var.waf_ip_blocker.max_new_blocks_per_run >= 1 && var.waf_ip_blocker.max_new_blocks_per_run <= 999999999, false)
    error_message = "waf_ip_blocker.max_new_blocks_per_run must be a whole number from 1 to 999999999."
  }
  # END generated: validations: waf-ip-blocker

  validation {
    condition     = contains(["REGIONAL", "CLOUDFRONT"], var.waf_ip_blocker.ip_set_scope)
    error_message = "waf_ip_blocker.ip_set_scope must be REGIONAL or CLOUDFRONT (CLOUDFRONT sets exist only in us-east-1)."
  }
  validation {
    condition     = !var.waf_ip_blocker.enabled || var.waf_ip_blocker.create_ip_sets || var.waf_ip_blocker.ipset_v4_arn != null || var.waf_ip_blocker.ipset_v6_arn != null
    error_message = "waf_ip_blocker needs IP sets: set create_ip_sets = true, or ipset_v4_arn and/or ipset_v6_arn."
  }
  validation {
    condition     = !(var.waf_ip_blocker.create_ip_sets && (var.waf_ip_blocker.ipset_v4_arn != null || var.waf_ip_blocker.ipset_v6_arn != null))
    error_message = "waf_ip_blocker: either create_ip_sets or give IP set ARNs, not both."
  }
  validation {
    condition = alltrue([
      for arn in compact([var.waf_ip_blocker.ipset_v4_arn, var.waf_ip_blocker.ipset_v6_arn]) :
      can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:(regional|global)/ipset/[A-Za-z0-9_-]{1,128}/[A-Za-z0-9-]{1,64}$", arn))
    ])
    error_message = "waf_ip_blocker.ipset_v4_arn / ipset_v6_arn must be WAFv2 IP set ARNs."
  }
  validation {
    condition     = var.waf_ip_blocker.log_bucket_trigger == null || contains(["eventbridge", "notification"], coalesce(var.waf_ip_blocker.log_bucket_trigger, "-"))
    error_message = "waf_ip_blocker.log_bucket_trigger must be eventbridge or notification."
  }
  validation {
    condition     = var.waf_ip_blocker.log_group_name == null || can(regex("^aws-waf-logs-[A-Za-z0-9_./#-]{1,499}$", var.waf_ip_blocker.log_group_name))
    error_message = "waf_ip_blocker.log_group_name must be aws-waf-logs- followed by 1 to 499 letters, digits or _./#- (WAF logs only to such groups)."
  }
  validation {
    condition     = alltrue([for c in coalesce(var.waf_ip_blocker.allow_cidrs, []) : can(cidrhost(c, 0)) || can(cidrhost("${c}/32", 0)) || can(cidrhost("${c}/128", 0))])
    error_message = "waf_ip_blocker.allow_cidrs must be IPv4 or IPv6 CIDRs or single addresses."
  }
  validation {
    condition     = length(join(",", coalesce(var.waf_ip_blocker.allow_cidrs, []))) <= 1024
    error_message = "waf_ip_blocker.allow_cidrs must be at most 1024 characters once joined with commas (the template's MaxLength, so the environment fits Lambda's 4 KB): aggregate addresses into wider CIDRs."
  }
  validation {
    condition     = var.waf_ip_blocker.schedule == null || can(regex("^$|^(rate|cron)\\(.+\\)$", var.waf_ip_blocker.schedule))
    error_message = "waf_ip_blocker.schedule must be a rate() or cron() expression, or \"\" for no schedule."
  }
  validation {
    condition     = var.waf_ip_blocker.log_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.waf_ip_blocker.log_bucket_name))
    error_message = "waf_ip_blocker.log_bucket_name must be an S3 bucket name."
  }
  validation {
    condition     = var.waf_ip_blocker.log_key_prefix == null || can(regex("^[A-Za-z0-9!_.*'()/=-]{0,512}$", var.waf_ip_blocker.log_key_prefix))
    error_message = "waf_ip_blocker.log_key_prefix must be an S3 key prefix of at most 512 letters, digits or !_.*'()/=-."
  }
  validation {
    condition = alltrue([
      for list in [var.waf_ip_blocker.count_labels, var.waf_ip_blocker.count_rules, var.waf_ip_blocker.ignore_uri_suffixes] :
      list == null || (length(join(",", coalesce(list, []))) <= 2048 && alltrue([for item in coalesce(list, []) : can(regex("^[^,\\n]+$", item))]))
    ])
    error_message = "waf_ip_blocker.count_labels, count_rules and ignore_uri_suffixes: items must be non-empty, without commas or line breaks, at most 2048 characters in all."
  }
  validation {
    condition     = alltrue([for r in coalesce(var.waf_ip_blocker.uri_rules, []) : coalesce(r.ignore, false) || can(regex("^[1-9][0-9]{0,8}$", tostring(r.threshold)))])
    error_message = "waf_ip_blocker.uri_rules: each rule needs a whole threshold of at least 1, or ignore = true."
  }
}

# --- rds-audit-notifier ------------------------------------------------------

variable "rds_audit_notifier" {
  description = "rds-audit-notifier: posts important RDS/Aurora audit events to Slack. log_group_names are subscribed to the function (one subscription filter each)."
  type = object({
    enabled         = optional(bool, false)
    log_group_names = optional(list(string), [])
    # BEGIN generated: attributes: rds-audit-notifier (cargo xtask gen, from functions/rds-audit-notifier/src/config.rs)
    alert_on     = optional(list(string))
    ignore_users = optional(list(string))
    ignore_hosts = optional(list(string))
    watch_users  = optional(list(string))
    match_regex  = optional(string)
    # END generated: attributes: rds-audit-notifier
  })
  default = {}

  # BEGIN generated: validations: rds-audit-notifier (cargo xtask gen, from functions/rds-audit-notifier/src/config.rs)
  validation {
    condition     = var.rds_audit_notifier.alert_on == null || try(can(regex("^(?:^(ddl|account|failed_login|watched_user|custom)(,(ddl|account|failed_login|watched_user|custom))*$)$", var.rds_audit_notifier.alert_on == null ? null : join(",", var.rds_audit_notifier.alert_on))), false)
    error_message = "rds_audit_notifier.alert_on must be a comma-separated list of ddl, account, failed_login, watched_user, custom."
  }
  validation {
    condition     = var.rds_audit_notifier.ignore_users == null || try(can(regex("^(?:^[\\x20-\\x7E]*$)$", var.rds_audit_notifier.ignore_users == null ? null : join(",", var.rds_audit_notifier.ignore_users))), false)
    error_message = "rds_audit_notifier.ignore_users must be printable ASCII on one line (no tabs or line breaks), within MaxLength so the function environment stays under the 4 KB Lambda allows."
  }
  validation {
    condition     = var.rds_audit_notifier.ignore_hosts == null || try(can(regex("^(?:^[\\x20-\\x7E]*$)$", var.rds_audit_notifier.ignore_hosts == null ? null : join(",", var.rds_audit_notifier.ignore_hosts))), false)
    error_message = "rds_audit_notifier.ignore_hosts must be printable ASCII on one line (no tabs or line breaks), within MaxLength so the function environment stays under the 4 KB Lambda allows."
  }
  validation {
    condition     = var.rds_audit_notifier.watch_users == null || try(can(regex("^(?:^[\\x20-\\x7E]*$)$", var.rds_audit_notifier.watch_users == null ? null : join(",", var.rds_audit_notifier.watch_users))), false)
    error_message = "rds_audit_notifier.watch_users must be printable ASCII on one line (no tabs or line breaks), within MaxLength so the function environment stays under the 4 KB Lambda allows."
  }
  validation {
    condition     = var.rds_audit_notifier.match_regex == null || try(can(regex("^(?:^[\\x20-\\x7E]*$)$", var.rds_audit_notifier.match_regex)), false)
    error_message = "rds_audit_notifier.match_regex must be printable ASCII on one line (no tabs or line breaks), within MaxLength so the function environment stays under the 4 KB Lambda allows."
  }
  # END generated: validations: rds-audit-notifier

  validation {
    condition     = alltrue([for g in var.rds_audit_notifier.log_group_names : can(regex("^/aws/rds/(instance|cluster)/[A-Za-z0-9-]{1,63}/(audit|postgresql)$", g))])
    error_message = "rds_audit_notifier.log_group_names must be RDS log groups: /aws/rds/instance|cluster/<id>/audit|postgresql."
  }
  validation {
    condition     = !var.rds_audit_notifier.enabled || length(var.rds_audit_notifier.log_group_names) > 0
    error_message = "rds_audit_notifier needs at least one log group in log_group_names."
  }
  validation {
    condition     = var.rds_audit_notifier.alert_on == null || length(coalesce(var.rds_audit_notifier.alert_on, [])) > 0
    error_message = "rds_audit_notifier.alert_on must name at least one category (leave it out for the default)."
  }
  validation {
    condition     = length(coalesce(var.rds_audit_notifier.watch_users, [])) == 0 || var.rds_audit_notifier.alert_on == null || contains(coalesce(var.rds_audit_notifier.alert_on, []), "watched_user")
    error_message = "rds_audit_notifier.watch_users alerts only with \"watched_user\" in alert_on; add it."
  }
  validation {
    condition     = length(coalesce(var.rds_audit_notifier.watch_users, [])) == 0 || var.rds_audit_notifier.alert_on != null
    error_message = "rds_audit_notifier.watch_users alerts only with \"watched_user\" in alert_on, which the default alert_on lacks: set alert_on = [\"ddl\", \"account\", \"failed_login\", \"watched_user\"]."
  }
  validation {
    condition = alltrue([
      for list in [var.rds_audit_notifier.ignore_users, var.rds_audit_notifier.ignore_hosts, var.rds_audit_notifier.watch_users] :
      list == null || (length(join(",", coalesce(list, []))) <= 2048 && alltrue([for item in coalesce(list, []) : can(regex("^[^,\\n]+$", item))]))
    ])
    error_message = "rds_audit_notifier.ignore_users, ignore_hosts and watch_users: items must be non-empty, without commas or line breaks, at most 2048 characters in all."
  }
  validation {
    condition     = var.rds_audit_notifier.match_regex == null || (can(regex("^[^\\n]{0,1024}$", var.rds_audit_notifier.match_regex)) && can(regex(var.rds_audit_notifier.match_regex, "")))
    error_message = "rds_audit_notifier.match_regex must be a valid regular expression of at most 1024 characters on one line."
  }
}

# --- maintenance-switch ------------------------------------------------------

variable "maintenance_switch" {
  description = "maintenance-switch: ALB maintenance windows from Step Functions. load_balancer_names limits which ALBs it may change (an IAM wildcard pattern)."
  type = object({
    enabled             = optional(bool, false)
    load_balancer_names = optional(string)
    notify_topic_arn    = optional(string)
    # BEGIN generated: attributes: maintenance-switch (cargo xtask gen, from functions/maintenance-switch/src/config.rs)
    default_body        = optional(string)
    default_status_code = optional(number)
    default_mode        = optional(string)
    # END generated: attributes: maintenance-switch
  })
  default = {}

  # BEGIN generated: validations: maintenance-switch (cargo xtask gen, from functions/maintenance-switch/src/config.rs)
  validation {
    condition     = var.maintenance_switch.default_status_code == null || try(can(regex("^(?:^[245][0-9][0-9]$)$", tostring(var.maintenance_switch.default_status_code))), false)
    error_message = "maintenance_switch.default_status_code must be a 2XX, 4XX or 5XX status code."
  }
  validation {
    condition     = var.maintenance_switch.default_mode == null || try(contains(["fixed-response", "forward"], var.maintenance_switch.default_mode), false)
    error_message = "maintenance_switch.default_mode must be one of fixed-response, forward."
  }
  # END generated: validations: maintenance-switch

  validation {
    condition     = var.maintenance_switch.load_balancer_names == null || can(regex("^[A-Za-z0-9*?-]{1,32}$", var.maintenance_switch.load_balancer_names))
    error_message = "maintenance_switch.load_balancer_names must be an ALB name or a pattern with * and ?."
  }
  validation {
    condition     = var.maintenance_switch.default_body == null || length(coalesce(var.maintenance_switch.default_body, "-")) <= 1024
    error_message = "maintenance_switch.default_body must be at most 1024 characters (the ALB limit)."
  }
  validation {
    condition     = !var.maintenance_switch.enabled || var.maintenance_switch.load_balancer_names != null
    error_message = "maintenance_switch.load_balancer_names is required when enabled: the ALB names (or a pattern such as shop-*) whose listeners it may change. \"*\" means every ALB of the account and Region."
  }
  validation {
    condition     = var.maintenance_switch.notify_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.maintenance_switch.notify_topic_arn))
    error_message = "maintenance_switch.notify_topic_arn must be an SNS topic ARN."
  }
}

# --- config-triage -----------------------------------------------------------

variable "config_triage" {
  description = "config-triage: deduplicated, exempted, routed AWS Config notifications and a digest. routes maps an owner tag value to that team's webhook secret (under route_secret_prefix)."
  type = object({
    enabled             = optional(bool, false)
    digest_schedule     = optional(string)
    route_secret_prefix = optional(string)
    # BEGIN generated: attributes: config-triage (cargo xtask gen, from functions/config-triage/src/config.rs)
    severity_rules = optional(list(object({
      rule     = string
      severity = string
    })))
    exemptions = optional(list(object({
      rule          = optional(string)
      resource      = optional(string)
      resource_type = optional(string)
      tag = optional(object({
        key   = string
        value = optional(string)
      }))
      expires = optional(string)
      reason  = optional(string)
    })))
    exemptions_parameter = optional(string)
    renotify_hours       = optional(number)
    owner_tag_key        = optional(string)
    routes               = optional(map(string))
    critical_topic_arn   = optional(string)
    aggregator_name      = optional(string)
    digest_oldest        = optional(number)
    dry_run              = optional(bool)
    # END generated: attributes: config-triage
  })
  default = {}

  # BEGIN generated: validations: config-triage (cargo xtask gen, from functions/config-triage/src/config.rs)
  validation {
    condition     = var.config_triage.exemptions_parameter == null || try(can(regex("^(?:^$|^/[A-Za-z0-9_.\\-/]{1,255}$)$", var.config_triage.exemptions_parameter)), false)
    error_message = "config_triage.exemptions_parameter must be empty, or an SSM parameter name starting with \"/\"."
  }
  validation {
    condition     = var.config_triage.renotify_hours == null || try(can(regex("^[0-9]+$", tostring(var.config_triage.renotify_hours))) && var.config_triage.renotify_hours >= 0 && var.config_triage.renotify_hours <= 999999999, false)
    error_message = "config_triage.renotify_hours must be a whole number from 0 to 999999999."
  }
  validation {
    condition     = var.config_triage.owner_tag_key == null || try(can(regex("^(?:^[A-Za-z0-9 _.:/=+\\-@]{1,128}$)$", var.config_triage.owner_tag_key)), false)
    error_message = "config_triage.owner_tag_key must be a tag key."
  }
  validation {
    condition     = var.config_triage.critical_topic_arn == null || try(can(regex("^(?:^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$)$", var.config_triage.critical_topic_arn)), false)
    error_message = "config_triage.critical_topic_arn must be empty, or an SNS topic ARN."
  }
  validation {
    condition     = var.config_triage.aggregator_name == null || try(can(regex("^(?:^$|^[A-Za-z0-9_-]{1,256}$)$", var.config_triage.aggregator_name)), false)
    error_message = "config_triage.aggregator_name must be empty, or a Config aggregator name."
  }
  validation {
    condition     = var.config_triage.digest_oldest == null || try(can(regex("^[0-9]+$", tostring(var.config_triage.digest_oldest))) && var.config_triage.digest_oldest >= 0 && var.config_triage.digest_oldest <= 999999999, false)
    error_message = "config_triage.digest_oldest must be a whole number from 0 to 999999999."
  }
  # END generated: validations: config-triage

  validation {
    condition     = alltrue([for r in coalesce(var.config_triage.severity_rules, []) : contains(["critical", "high", "medium", "low"], r.severity)])
    error_message = "config_triage.severity_rules[*].severity must be critical, high, medium or low."
  }
  validation {
    condition     = alltrue([for e in coalesce(var.config_triage.exemptions, []) : e.expires == null || can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}", coalesce(e.expires, "-")))])
    error_message = "config_triage.exemptions[*].expires must be a date (2026-12-31) or an RFC 3339 time."
  }
  validation {
    condition     = var.config_triage.digest_schedule == null || can(regex("^$|^(rate|cron)\\(.+\\)$", var.config_triage.digest_schedule))
    error_message = "config_triage.digest_schedule must be a rate() or cron() expression, or \"\" for no digest."
  }
  validation {
    condition     = var.config_triage.route_secret_prefix == null || can(regex("^[A-Za-z0-9_+=.@-][A-Za-z0-9/_+=.@-]{0,255}$", var.config_triage.route_secret_prefix))
    error_message = "config_triage.route_secret_prefix must be a Secrets Manager name prefix such as toilkit/routes/ (no leading \"/\")."
  }
  validation {
    condition     = length(coalesce(var.config_triage.routes, {})) == 0 || var.config_triage.route_secret_prefix != null
    error_message = "config_triage.routes needs route_secret_prefix: the prefix of the teams' webhook secrets, the only ones the function may read."
  }
  validation {
    condition = alltrue([
      for secret in values(coalesce(var.config_triage.routes, {})) :
      startswith(secret, coalesce(var.config_triage.route_secret_prefix, "\n")) || startswith(secret, "/${coalesce(var.config_triage.route_secret_prefix, "\n")}") || can(regex(":secret:${coalesce(var.config_triage.route_secret_prefix, "\n")}", secret))
    ])
    error_message = "config_triage.routes: every webhook secret must sit under route_secret_prefix (the function may read nothing else)."
  }
}

# --- log-retention -----------------------------------------------------------

variable "log_retention" {
  description = "log-retention: CloudWatch Logs retention, deletion of stale empty groups, pruning of old S3 log objects. retention_days is required when enabled."
  type = object({
    enabled             = optional(bool, false)
    schedule            = optional(string)
    on_create_log_group = optional(bool)
    # BEGIN generated: attributes: log-retention (cargo xtask gen, from functions/log-retention/src/config.rs)
    retention_days = optional(number)
    rules = optional(list(object({
      prefix  = optional(string)
      pattern = optional(string)
      days    = optional(number)
      keep    = optional(bool)
    })))
    override_existing       = optional(bool)
    exempt_tag_key          = optional(string)
    delete_empty_after_days = optional(number)
    s3_prune = optional(list(object({
      bucket = string
      prefix = optional(string, "")
      days   = number
    })))
    max_group_deletions_per_run  = optional(number)
    max_object_deletions_per_run = optional(number)
    regions                      = optional(list(string))
    dry_run                      = optional(bool)
    max_api_rps                  = optional(number)
    # END generated: attributes: log-retention
  })
  default = {}

  # BEGIN generated: validations: log-retention (cargo xtask gen, from functions/log-retention/src/config.rs)
  validation {
    condition     = var.log_retention.retention_days == null || try(contains(["1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545", "731", "1096", "1827", "2192", "2557", "2922", "3288", "3653"], tostring(var.log_retention.retention_days)), false)
    error_message = "log_retention.retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
  validation {
    condition     = var.log_retention.exempt_tag_key == null || try(can(regex("^(?:^[A-Za-z0-9 _.:/=+\\-@]{1,128}$)$", var.log_retention.exempt_tag_key)), false)
    error_message = "log_retention.exempt_tag_key must be a tag key."
  }
  validation {
    condition     = var.log_retention.delete_empty_after_days == null || try(can(regex("^(?:^$|^[1-9][0-9]{0,4}$)$", tostring(var.log_retention.delete_empty_after_days))), false)
    error_message = "log_retention.delete_empty_after_days must be empty, or a whole number of days."
  }
  validation {
    condition     = var.log_retention.max_group_deletions_per_run == null || try(can(regex("^[0-9]+$", tostring(var.log_retention.max_group_deletions_per_run))) && var.log_retention.max_group_deletions_per_run >= 0 && var.log_retention.max_group_deletions_per_run <= 999999999, false)
    error_message = "log_retention.max_group_deletions_per_run must be a whole number from 0 to 999999999."
  }
  validation {
    condition     = var.log_retention.max_object_deletions_per_run == null || try(can(regex("^[0-9]+$", tostring(var.log_retention.max_object_deletions_per_run))) && var.log_retention.max_object_deletions_per_run >= 0 && var.log_retention.max_object_deletions_per_run <= 999999999, false)
    error_message = "log_retention.max_object_deletions_per_run must be a whole number from 0 to 999999999."
  }
  validation {
    condition     = var.log_retention.regions == null || try(can(regex("^(?:^$|^[a-z]{2}(-[a-z]+)+-[0-9](,[a-z]{2}(-[a-z]+)+-[0-9])*$)$", var.log_retention.regions == null ? null : join(",", var.log_retention.regions))), false)
    error_message = "log_retention.regions must be empty, or comma-separated Region names."
  }
  validation {
    condition     = var.log_retention.max_api_rps == null || try(can(regex("^(?:^[0-9]+(\\.[0-9]+)?$)$", tostring(var.log_retention.max_api_rps))), false)
    error_message = "log_retention.max_api_rps must be a number of calls per second."
  }
  # END generated: validations: log-retention

  validation {
    condition     = !var.log_retention.enabled || var.log_retention.retention_days != null
    error_message = "log_retention.retention_days is required when log_retention.enabled is true."
  }
  validation {
    condition = alltrue([
      for d in concat(
        var.log_retention.retention_days == null ? [] : [var.log_retention.retention_days],
        [for r in coalesce(var.log_retention.rules, []) : r.days if r.days != null],
      ) : contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], d)
    ])
    error_message = "log_retention.retention_days and rules[*].days must be CloudWatch Logs retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, ... 3653)."
  }
  validation {
    condition     = alltrue([for r in coalesce(var.log_retention.rules, []) : (r.prefix != null) != (r.pattern != null) && (r.days != null) != coalesce(r.keep, false)])
    error_message = "log_retention.rules: each rule has a prefix or a pattern (one), and days or keep = true (one)."
  }
  validation {
    condition     = alltrue([for p in coalesce(var.log_retention.s3_prune, []) : can(regex("^[1-9][0-9]{0,8}$", tostring(p.days))) && can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", p.bucket))])
    error_message = "log_retention.s3_prune: each entry needs a valid bucket name and a whole number of days, at least 1."
  }
  validation {
    condition     = var.log_retention.schedule == null || can(regex("^$|^(rate|cron)\\(.+\\)$", var.log_retention.schedule))
    error_message = "log_retention.schedule must be a rate() or cron() expression, or \"\" for no schedule."
  }
  validation {
    condition     = var.log_retention.max_api_rps == null || coalesce(var.log_retention.max_api_rps, 1) > 0
    error_message = "log_retention.max_api_rps must be above 0 (calls per second)."
  }
}

# --- access-denied-triage ----------------------------------------------------

variable "access_denied_triage" {
  description = "access-denied-triage: denied API calls from CloudTrail, noise dropped and counted, grouped, routed by the principal's owner tag; attacks paged. trail_log_group_name subscribes a trail's log group (an organization trail's) as well as this account's EventBridge rule. routes maps an owner tag value to that team's webhook secret (under route_secret_prefix)."
  type = object({
    enabled              = optional(bool, false)
    digest_schedule      = optional(string)
    trail_log_group_name = optional(string)
    route_secret_prefix  = optional(string)
    # BEGIN generated: attributes: access-denied-triage (cargo xtask gen, from functions/access-denied-triage/src/config.rs)
    rules = optional(list(object({
      principal = optional(string)
      action    = optional(string)
      reason    = string
      expires   = optional(string)
    })))
    sensitive_actions    = optional(list(string))
    privileged_roles     = optional(list(string))
    recon_threshold      = optional(number)
    recon_window_minutes = optional(number)
    own_cidrs            = optional(list(string))
    renotify_hours       = optional(number)
    owner_tag_key        = optional(string)
    routes               = optional(map(string))
    critical_topic_arn   = optional(string)
    digest_top           = optional(number)
    dry_run              = optional(bool)
    # END generated: attributes: access-denied-triage
  })
  default = {}

  # BEGIN generated: validations: access-denied-triage (cargo xtask gen, from functions/access-denied-triage/src/config.rs)
  validation {
    condition     = var.access_denied_triage.sensitive_actions == null || try(can(regex("^(?:^$|^[A-Za-z0-9*?:\\-]+(,[A-Za-z0-9*?:\\-]+)*$)$", var.access_denied_triage.sensitive_actions == null ? null : join(",", var.access_denied_triage.sensitive_actions))), false)
    error_message = "access_denied_triage.sensitive_actions must be empty (the default list), or comma-separated service:Action patterns."
  }
  validation {
    condition     = var.access_denied_triage.privileged_roles == null || try(can(regex("^(?:^$|^[A-Za-z0-9*?+=.@_\\-]+(,[A-Za-z0-9*?+=.@_\\-]+)*$)$", var.access_denied_triage.privileged_roles == null ? null : join(",", var.access_denied_triage.privileged_roles))), false)
    error_message = "access_denied_triage.privileged_roles must be empty (the default list), or comma-separated role-name patterns."
  }
  validation {
    condition     = var.access_denied_triage.recon_threshold == null || try(can(regex("^[0-9]+$", tostring(var.access_denied_triage.recon_threshold))) && var.access_denied_triage.recon_threshold >= 2 && var.access_denied_triage.recon_threshold <= 1000, false)
    error_message = "access_denied_triage.recon_threshold must be a whole number from 2 to 1000."
  }
  validation {
    condition     = var.access_denied_triage.recon_window_minutes == null || try(can(regex("^[0-9]+$", tostring(var.access_denied_triage.recon_window_minutes))) && var.access_denied_triage.recon_window_minutes >= 1 && var.access_denied_triage.recon_window_minutes <= 1440, false)
    error_message = "access_denied_triage.recon_window_minutes must be a whole number from 1 to 1440."
  }
  validation {
    condition     = var.access_denied_triage.own_cidrs == null || try(can(regex("^(?:^$|^[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*$)$", var.access_denied_triage.own_cidrs == null ? null : join(",", var.access_denied_triage.own_cidrs))), false)
    error_message = "access_denied_triage.own_cidrs must be empty, or comma-separated CIDRs."
  }
  validation {
    condition     = var.access_denied_triage.renotify_hours == null || try(can(regex("^[0-9]+$", tostring(var.access_denied_triage.renotify_hours))) && var.access_denied_triage.renotify_hours >= 0 && var.access_denied_triage.renotify_hours <= 65535, false)
    error_message = "access_denied_triage.renotify_hours must be a whole number from 0 to 65535."
  }
  validation {
    condition     = var.access_denied_triage.owner_tag_key == null || try(can(regex("^(?:^[A-Za-z0-9 _.:/=+\\-@]{1,128}$)$", var.access_denied_triage.owner_tag_key)), false)
    error_message = "access_denied_triage.owner_tag_key must be a tag key."
  }
  validation {
    condition     = var.access_denied_triage.critical_topic_arn == null || try(can(regex("^(?:^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$)$", var.access_denied_triage.critical_topic_arn)), false)
    error_message = "access_denied_triage.critical_topic_arn must be empty, or an SNS topic ARN."
  }
  validation {
    condition     = var.access_denied_triage.digest_top == null || try(can(regex("^[0-9]+$", tostring(var.access_denied_triage.digest_top))) && var.access_denied_triage.digest_top >= 1 && var.access_denied_triage.digest_top <= 100, false)
    error_message = "access_denied_triage.digest_top must be a whole number from 1 to 100."
  }
  # END generated: validations: access-denied-triage

  validation {
    condition     = var.access_denied_triage.digest_schedule == null || can(regex("^$|^(rate|cron)\\(.+\\)$", var.access_denied_triage.digest_schedule))
    error_message = "access_denied_triage.digest_schedule must be a rate() or cron() expression, or \"\" for no digest."
  }
  validation {
    condition     = var.access_denied_triage.trail_log_group_name == null || can(regex("^[A-Za-z0-9_/.#-]{1,512}$", var.access_denied_triage.trail_log_group_name))
    error_message = "access_denied_triage.trail_log_group_name must be a CloudWatch Logs log group name (letters, digits and _/.#-)."
  }
  validation {
    condition     = var.access_denied_triage.route_secret_prefix == null || can(regex("^[A-Za-z0-9_+=.@-][A-Za-z0-9/_+=.@-]{0,255}$", var.access_denied_triage.route_secret_prefix))
    error_message = "access_denied_triage.route_secret_prefix must be a Secrets Manager name prefix such as toilkit/routes/ (no leading \"/\")."
  }
  validation {
    condition     = length(coalesce(var.access_denied_triage.routes, {})) == 0 || var.access_denied_triage.route_secret_prefix != null
    error_message = "access_denied_triage.routes needs route_secret_prefix: the prefix of the teams' webhook secrets, the only ones the function may read."
  }
  validation {
    condition = alltrue([
      for secret in values(coalesce(var.access_denied_triage.routes, {})) :
      startswith(secret, coalesce(var.access_denied_triage.route_secret_prefix, "\n")) || startswith(secret, "/${coalesce(var.access_denied_triage.route_secret_prefix, "\n")}") || can(regex(":secret:${coalesce(var.access_denied_triage.route_secret_prefix, "\n")}", secret))
    ])
    error_message = "access_denied_triage.routes: every webhook secret must sit under route_secret_prefix (the function may read nothing else)."
  }
  validation {
    condition     = alltrue([for r in coalesce(var.access_denied_triage.rules, []) : (r.principal != null || r.action != null) && (r.expires == null || can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", coalesce(r.expires, "-"))))])
    error_message = "access_denied_triage.rules: each rule needs a principal or an action pattern, and expires, when set, is a date (2026-12-31)."
  }
}

# --- patch-waves -------------------------------------------------------------

variable "patch_waves" {
  description = "patch-waves: the EC2 patch report (read-only): every running instance and whether Systems Manager covers it, missing and failed patches, stale scans, Amazon Linux 2023 releases behind, by owner tag and patch group, with a digest per owner of what is new, fixed and still open. report_schedule runs it; routes maps an owner tag value to that team's webhook secret (under route_secret_prefix). rollout_enabled deploys the wave rollout's state machine, which patches only instances tagged toilkit:patch-wave."
  type = object({
    enabled             = optional(bool, false)
    report_schedule     = optional(string)
    rollout_enabled     = optional(bool, false)
    route_secret_prefix = optional(string)
    # BEGIN generated: attributes: patch-waves (cargo xtask gen, from functions/patch-waves/src/config.rs)
    owner_tag_key           = optional(string)
    routes                  = optional(map(string))
    scan_stale_days         = optional(number)
    al2023_latest_parameter = optional(string)
    waves                   = optional(list(string))
    reboot_option           = optional(string)
    command_max_concurrency = optional(string)
    command_max_errors      = optional(string)
    command_timeout_minutes = optional(number)
    wave_failure_percent    = optional(number)
    snapshot_before_patch   = optional(bool)
    snapshot_retention_days = optional(number)
    drain_target_groups     = optional(list(string))
    healthy_timeout_minutes = optional(number)
    bake_minutes            = optional(number)
    freeze_windows          = optional(list(string))
    exemptions = optional(list(object({
      instance = optional(string)
      tag = optional(object({
        key   = string
        value = optional(string)
      }))
      reason  = string
      expires = string
    })))
    dry_run = optional(bool)
    # END generated: attributes: patch-waves
  })
  default = {}

  # BEGIN generated: validations: patch-waves (cargo xtask gen, from functions/patch-waves/src/config.rs)
  validation {
    condition     = var.patch_waves.owner_tag_key == null || try(can(regex("^(?:^[A-Za-z0-9 _.:/=+\\-@]{1,128}$)$", var.patch_waves.owner_tag_key)), false)
    error_message = "patch_waves.owner_tag_key must be a tag key."
  }
  validation {
    condition     = var.patch_waves.scan_stale_days == null || try(can(regex("^[0-9]+$", tostring(var.patch_waves.scan_stale_days))) && var.patch_waves.scan_stale_days >= 1 && var.patch_waves.scan_stale_days <= 365, false)
    error_message = "patch_waves.scan_stale_days must be a whole number from 1 to 365."
  }
  validation {
    condition     = var.patch_waves.al2023_latest_parameter == null || try(can(regex("^(?:^/aws/service/ami-amazon-linux-latest/al2023-ami-[A-Za-z0-9._-]{1,100}$)$", var.patch_waves.al2023_latest_parameter)), false)
    error_message = "patch_waves.al2023_latest_parameter must be a public parameter under /aws/service/ami-amazon-linux-latest/al2023-ami-."
  }
  validation {
    condition     = var.patch_waves.waves == null || try(can(regex("^(?:^[A-Za-z0-9_-]{1,16}(,[A-Za-z0-9_-]{1,16}){0,5}$)$", var.patch_waves.waves == null ? null : join(",", var.patch_waves.waves))), false)
    error_message = "patch_waves.waves must be one to six wave names of up to 16 characters, comma-separated."
  }
  validation {
    condition     = var.patch_waves.reboot_option == null || try(contains(["RebootIfNeeded", "NoReboot"], var.patch_waves.reboot_option), false)
    error_message = "patch_waves.reboot_option must be one of RebootIfNeeded, NoReboot."
  }
  validation {
    condition     = var.patch_waves.command_max_concurrency == null || try(can(regex("^(?:^([1-9][0-9]{0,3}|10000|[1-9][0-9]?%|100%)$)$", var.patch_waves.command_max_concurrency)), false)
    error_message = "patch_waves.command_max_concurrency must be a count from 1 or a percentage from 1% to 100%."
  }
  validation {
    condition     = var.patch_waves.command_max_errors == null || try(can(regex("^(?:^([0-9]{1,4}|10000|[0-9]{1,2}%|100%)$)$", var.patch_waves.command_max_errors)), false)
    error_message = "patch_waves.command_max_errors must be a count or a percentage."
  }
  validation {
    condition     = var.patch_waves.command_timeout_minutes == null || try(can(regex("^[0-9]+$", tostring(var.patch_waves.command_timeout_minutes))) && var.patch_waves.command_timeout_minutes >= 10 && var.patch_waves.command_timeout_minutes <= 480, false)
    error_message = "patch_waves.command_timeout_minutes must be a whole number from 10 to 480."
  }
  validation {
    condition     = var.patch_waves.wave_failure_percent == null || try(can(regex("^[0-9]+$", tostring(var.patch_waves.wave_failure_percent))) && var.patch_waves.wave_failure_percent >= 0 && var.patch_waves.wave_failure_percent <= 100, false)
    error_message = "patch_waves.wave_failure_percent must be a whole number from 0 to 100."
  }
  validation {
    condition     = var.patch_waves.snapshot_retention_days == null || try(can(regex("^[0-9]+$", tostring(var.patch_waves.snapshot_retention_days))) && var.patch_waves.snapshot_retention_days >= 1 && var.patch_waves.snapshot_retention_days <= 365, false)
    error_message = "patch_waves.snapshot_retention_days must be a whole number from 1 to 365."
  }
  validation {
    condition     = var.patch_waves.drain_target_groups == null || try(can(regex("^(?:^$|^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/[^,]+(,arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/[^,]+)*$)$", var.patch_waves.drain_target_groups == null ? null : join(",", var.patch_waves.drain_target_groups))), false)
    error_message = "patch_waves.drain_target_groups must be empty, or target group ARNs, comma-separated."
  }
  validation {
    condition     = var.patch_waves.healthy_timeout_minutes == null || try(can(regex("^[0-9]+$", tostring(var.patch_waves.healthy_timeout_minutes))) && var.patch_waves.healthy_timeout_minutes >= 1 && var.patch_waves.healthy_timeout_minutes <= 120, false)
    error_message = "patch_waves.healthy_timeout_minutes must be a whole number from 1 to 120."
  }
  validation {
    condition     = var.patch_waves.bake_minutes == null || try(can(regex("^[0-9]+$", tostring(var.patch_waves.bake_minutes))) && var.patch_waves.bake_minutes >= 0 && var.patch_waves.bake_minutes <= 1440, false)
    error_message = "patch_waves.bake_minutes must be a whole number from 0 to 1440."
  }
  # END generated: validations: patch-waves

  validation {
    condition     = var.patch_waves.report_schedule == null || can(regex("^$|^(rate|cron)\\(.+\\)$", var.patch_waves.report_schedule))
    error_message = "patch_waves.report_schedule must be a rate() or cron() expression, or \"\" for no schedule."
  }
  validation {
    condition     = var.patch_waves.route_secret_prefix == null || can(regex("^[A-Za-z0-9_+=.@-][A-Za-z0-9/_+=.@-]{0,255}$", var.patch_waves.route_secret_prefix))
    error_message = "patch_waves.route_secret_prefix must be a Secrets Manager name prefix such as toilkit/routes/ (no leading \"/\")."
  }
  validation {
    condition     = length(coalesce(var.patch_waves.routes, {})) == 0 || var.patch_waves.route_secret_prefix != null
    error_message = "patch_waves.routes needs route_secret_prefix: the prefix of the teams' webhook secrets, the only ones the function may read."
  }
  validation {
    condition = alltrue([
      for secret in values(coalesce(var.patch_waves.routes, {})) :
      startswith(secret, coalesce(var.patch_waves.route_secret_prefix, "\n")) || startswith(secret, "/${coalesce(var.patch_waves.route_secret_prefix, "\n")}") || can(regex(":secret:${coalesce(var.patch_waves.route_secret_prefix, "\n")}", secret))
    ])
    error_message = "patch_waves.routes: every webhook secret must sit under route_secret_prefix (the function may read nothing else)."
  }
}
