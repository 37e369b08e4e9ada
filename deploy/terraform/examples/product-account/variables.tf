variable "region" {
  description = "Region of the product account to deploy into, e.g. eu-west-1."
  type        = string
}

variable "toilkit_application_id" {
  description = "ARN of the published toilkit application (the output of `sam publish`), shared with this account."
  type        = string
}

variable "toilkit_version" {
  description = "Version of toilkit to deploy."
  type        = string
  default     = "0.1.0"
}

variable "slack_webhook_parameter" {
  description = "SSM SecureString parameter holding this product's Slack webhook URL."
  type        = string
  default     = "/toilkit/slack-webhook"
}

variable "alarm_topic_arn" {
  description = "SNS topic of the on-call team for toilkit's alarms; null for none."
  type        = string
  default     = null
}

variable "waf_log_bucket" {
  description = "S3 bucket receiving this product's WAF logs; null to leave waf-ip-blocker off."
  type        = string
  default     = null
}

variable "rds_audit_log_groups" {
  description = "RDS audit log groups to watch, e.g. [\"/aws/rds/cluster/shop-prod/audit\"]; empty to leave rds-audit-notifier off."
  type        = list(string)
  default     = []
}

variable "app_log_bucket" {
  description = "S3 bucket of application logs to prune after 90 days; null for none."
  type        = string
  default     = null
}
