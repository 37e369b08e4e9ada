variable "region" {
  description = "Region of the central account to deploy into, e.g. eu-west-1: the product accounts' reports are forwarded to a bus in this Region."
  type        = string
}

variable "hub_application_id" {
  description = "ARN of the published toilkit-hub application (the output of `sam publish`)."
  type        = string
}

variable "hub_version" {
  description = "Version of toilkit-hub to deploy."
  type        = string
  default     = "0.1.0"
}

variable "organization_id" {
  description = "AWS Organizations id whose accounts may send reports (o-...); null to name accounts only."
  type        = string
  default     = null
}

variable "source_accounts" {
  description = "Accounts outside the organization that may send reports."
  type        = list(string)
  default     = []
}

variable "slack_webhook_parameter" {
  description = "SSM SecureString parameter holding the Slack webhook URL of the hub's alerts and digest."
  type        = string
  default     = "/toilkit/hub-slack-webhook"
}

variable "alarm_topic_arn" {
  description = "SNS topic of the platform team for the hub's alarms; null for none."
  type        = string
  default     = null
}
