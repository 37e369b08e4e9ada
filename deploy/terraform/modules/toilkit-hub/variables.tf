# Inputs of the toilkit-hub module: the application, who may send to the
# hub (this account's default bus), and the collector's settings (see
# functions/hub-collector/README.md), one object whose attributes left null
# keep the application's default. The module turns them into the SAR
# application's parameters.

# --- The application --------------------------------------------------------

variable "application_id" {
  description = "ARN of the toilkit-hub application in the AWS Serverless Application Repository (from `sam publish`), e.g. arn:aws:serverlessrepo:eu-west-1:111122223333:applications/toilkit-hub."
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

# --- Who may send -----------------------------------------------------------

variable "organization_id" {
  description = "Every account of this AWS Organization may send reports to the hub, on this account's default bus (aws:PrincipalOrgID). Set this, source_accounts, or both."
  type        = string
  default     = null

  validation {
    condition     = var.organization_id == null || can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must be an AWS Organizations id, o- and 10 to 32 lowercase letters or digits."
  }
}

variable "source_accounts" {
  description = "Accounts (12-digit ids) that may send reports to the hub, on this account's default bus, besides or instead of the organization's."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.source_accounts : can(regex("^[0-9]{12}$", a))]) && length(var.source_accounts) <= 100
    error_message = "source_accounts must be at most 100 12-digit account ids."
  }
}

# --- Shared settings -------------------------------------------------------

# BEGIN generated: application-variables (cargo xtask gen, from xtask/src/generate/application.rs)
variable "name" {
  description = "Name of the deployment: the CloudFormation stack is serverlessrepo-<name>-hub, and every named resource starts with <name>-hub (the function <name>-hub-collector, its rules and buckets)."
  type        = string
  default     = "toilkit"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name must be 2 to 20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "slack_webhook" {
  description = "Where the Slack incoming-webhook URL of the alerts and the digest is stored: a Secrets Manager secret ARN or an SSM SecureString parameter name (one of them). The URL itself never goes into Terraform."
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
  description = "Optional SNS topic ARN for the alarms (function errors, dead letters, undelivered events)."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN."
  }
}

variable "function_log_retention_days" {
  description = "Retention of the function's own log group, in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.function_log_retention_days)
    error_message = "function_log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary (IAM policy ARN) attached to the role the application creates."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/[A-Za-z0-9+=,.@_/-]+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM managed policy ARN."
  }
}

variable "kms_key_arn" {
  description = "Optional customer-managed KMS key (ARN) for the queues, the state table, the buckets and the function's log group. Its key policy must let the account's roles (and whoever queries the history), logs.<region>.amazonaws.com and events.amazonaws.com use it."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,64}$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (not an alias)."
  }
}
# END generated: application-variables

variable "history_retention_days" {
  description = "Days every report is kept in the history bucket (and so in Athena)."
  type        = number
  default     = 400

  validation {
    condition     = floor(var.history_retention_days) == var.history_retention_days && var.history_retention_days >= 1 && var.history_retention_days <= 3650
    error_message = "history_retention_days must be a whole number from 1 to 3650."
  }
}

variable "digest_schedule" {
  description = "When to post the daily digest (UTC), an EventBridge rate() or cron() expression."
  type        = string
  default     = null

  validation {
    condition     = var.digest_schedule == null || can(regex("^(rate|cron)\\(.+\\)$", var.digest_schedule))
    error_message = "digest_schedule must be an EventBridge rate() or cron() expression."
  }
}

# --- The collector ------------------------------------------------------------

variable "hub_collector" {
  description = "The settings of hub-collector (functions/hub-collector/README.md), in lower case; null keeps the application's default."
  type = object({
    # BEGIN generated: attributes: hub-collector (cargo xtask gen, from functions/hub-collector/src/config.rs)
    expected_intervals      = optional(map(number))
    silence_margin_minutes  = optional(number)
    failures_alert          = optional(number)
    render_interval_seconds = optional(number)
    link_hours              = optional(number)
    dry_run                 = optional(bool)
    # END generated: attributes: hub-collector
  })
  default = {}

  # BEGIN generated: validations: hub-collector (cargo xtask gen, from functions/hub-collector/src/config.rs)
  validation {
    condition     = var.hub_collector.silence_margin_minutes == null || try(can(regex("^[0-9]+$", tostring(var.hub_collector.silence_margin_minutes))) && var.hub_collector.silence_margin_minutes >= 0 && var.hub_collector.silence_margin_minutes <= 10080, false)
    error_message = "hub_collector.silence_margin_minutes must be a whole number from 0 to 10080."
  }
  validation {
    condition     = var.hub_collector.failures_alert == null || try(can(regex("^[0-9]+$", tostring(var.hub_collector.failures_alert))) && var.hub_collector.failures_alert >= 1 && var.hub_collector.failures_alert <= 100, false)
    error_message = "hub_collector.failures_alert must be a whole number from 1 to 100."
  }
  validation {
    condition     = var.hub_collector.render_interval_seconds == null || try(can(regex("^[0-9]+$", tostring(var.hub_collector.render_interval_seconds))) && var.hub_collector.render_interval_seconds >= 0 && var.hub_collector.render_interval_seconds <= 86400, false)
    error_message = "hub_collector.render_interval_seconds must be a whole number from 0 to 86400."
  }
  validation {
    condition     = var.hub_collector.link_hours == null || try(can(regex("^[0-9]+$", tostring(var.hub_collector.link_hours))) && var.hub_collector.link_hours >= 1 && var.hub_collector.link_hours <= 168, false)
    error_message = "hub_collector.link_hours must be a whole number from 1 to 168."
  }
  # END generated: validations: hub-collector

  # What the collector checks at start, which the template's pattern cannot.
  validation {
    condition     = var.hub_collector.expected_intervals == null || alltrue([for f, m in coalesce(var.hub_collector.expected_intervals, {}) : can(regex("^[a-z0-9-]+$", f)) && floor(m) == m && m >= 0])
    error_message = "hub_collector.expected_intervals must map function names (lowercase letters, digits and hyphens) to whole minutes, 0 or more."
  }
}
