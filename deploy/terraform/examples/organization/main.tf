# toilkit in many product accounts and Regions from one root, two ways:
#
# 1. Terraform per account: one provider alias per account and Region (each
#    assumes the deploy role there) and one module call per alias. This is the
#    shape for teams that keep Terraform per product: copy a block per account.
# 2. A service-managed CloudFormation StackSet: one template (the pre-
#    transformed `stackset.template.json` from `cargo xtask package`; StackSets
#    reject the SAM transform) deployed to every account of some OUs, new
#    accounts included, with no Terraform state per account.

locals {
  application_id = {
    for region in ["eu-west-1", "us-east-1"] :
    region => "arn:aws:serverlessrepo:${region}:${var.publishing_account_id}:applications/toilkit"
  }
}

provider "aws" {
  alias  = "shop_prod_eu_west_1"
  region = "eu-west-1"
  assume_role {
    role_arn     = "arn:aws:iam::${var.shop_prod_account_id}:role/${var.deploy_role_name}"
    session_name = "toilkit-deploy"
  }
}

provider "aws" {
  alias  = "shop_prod_us_east_1"
  region = "us-east-1"
  assume_role {
    role_arn     = "arn:aws:iam::${var.shop_prod_account_id}:role/${var.deploy_role_name}"
    session_name = "toilkit-deploy"
  }
}

provider "aws" {
  alias  = "payments_prod_eu_west_1"
  region = "eu-west-1"
  assume_role {
    role_arn     = "arn:aws:iam::${var.payments_prod_account_id}:role/${var.deploy_role_name}"
    session_name = "toilkit-deploy"
  }
}

# The account where the StackSet lives (management or delegated admin).
provider "aws" {
  alias  = "stackset_admin"
  region = "eu-west-1"
}

module "shop_prod_eu_west_1" {
  source    = "../../modules/toilkit"
  providers = { aws = aws.shop_prod_eu_west_1 }

  application_id   = local.application_id["eu-west-1"]
  semantic_version = var.toilkit_version
  slack_webhook    = { parameter = "/toilkit/slack-webhook" }

  result_event_bus             = var.central_bus_arn == null ? null : "default"
  result_event_forward_bus_arn = var.central_bus_arn

  log_retention = {
    enabled        = true
    dry_run        = true
    retention_days = 30
  }
  maintenance_switch = {
    enabled             = true
    load_balancer_names = "shop-*"
  }
}

module "shop_prod_us_east_1" {
  source    = "../../modules/toilkit"
  providers = { aws = aws.shop_prod_us_east_1 }

  application_id   = local.application_id["us-east-1"]
  semantic_version = var.toilkit_version
  slack_webhook    = { parameter = "/toilkit/slack-webhook" }

  result_event_bus             = var.central_bus_arn == null ? null : "default"
  result_event_forward_bus_arn = var.central_bus_arn

  # CloudFront web ACLs live in us-east-1: the IP sets for them too.
  waf_ip_blocker = {
    enabled        = true
    create_ip_sets = true
    ip_set_scope   = "CLOUDFRONT"
    log_group_name = "aws-waf-logs-shop-cloudfront"
    threshold      = 300
    allow_cidrs    = ["203.0.113.0/24"]
    dry_run        = true
  }
  log_retention = {
    enabled        = true
    dry_run        = true
    retention_days = 30
  }
}

module "payments_prod_eu_west_1" {
  source    = "../../modules/toilkit"
  providers = { aws = aws.payments_prod_eu_west_1 }

  application_id   = local.application_id["eu-west-1"]
  semantic_version = var.toilkit_version
  slack_webhook    = { parameter = "/toilkit/slack-webhook" }

  result_event_bus             = var.central_bus_arn == null ? null : "default"
  result_event_forward_bus_arn = var.central_bus_arn

  log_retention = {
    enabled        = true
    dry_run        = true
    retention_days = 90
  }
  config_triage = {
    enabled = true
  }
}

# --- The StackSet route ------------------------------------------------------

resource "aws_cloudformation_stack_set" "toilkit" {
  count    = var.stackset_enabled ? 1 : 0
  provider = aws.stackset_admin

  name             = "toilkit"
  description      = "toilkit ${var.toilkit_version} in every account of the organizational units"
  permission_model = "SERVICE_MANAGED"
  call_as          = var.stackset_call_as
  capabilities     = ["CAPABILITY_IAM"]
  template_body    = file(var.stackset_template_path)
  parameters = merge(var.stackset_parameters, {
    CodeS3Bucket    = "${coalesce(var.stackset_code_bucket_prefix, "unset")}-${var.stackset_regions[0]}"
    CodeS3KeyPrefix = "toilkit/${var.toilkit_version}/"
  })

  auto_deployment {
    enabled                          = true
    retain_stacks_on_account_removal = false
  }

  operation_preferences {
    failure_tolerance_percentage = 10
    max_concurrent_percentage    = 25
    region_concurrency_type      = "PARALLEL"
  }

  lifecycle {
    # The service sets administration_role_arn for SERVICE_MANAGED sets.
    ignore_changes = [administration_role_arn]
  }
}

resource "aws_cloudformation_stack_set_instance" "toilkit" {
  for_each = var.stackset_enabled ? toset(var.stackset_regions) : toset([])
  provider = aws.stackset_admin

  stack_set_name = aws_cloudformation_stack_set.toilkit[0].name
  call_as        = var.stackset_call_as
  region         = each.value

  # Lambda reads code from a bucket of the stack's own Region.
  parameter_overrides = {
    CodeS3Bucket = "${coalesce(var.stackset_code_bucket_prefix, "unset")}-${each.value}"
  }

  deployment_targets {
    organizational_unit_ids = var.stackset_organizational_unit_ids
  }

  operation_preferences {
    failure_tolerance_percentage = 10
    max_concurrent_percentage    = 25
  }
}

output "function_arns" {
  description = "ARN of each deployed function, per account and Region (Terraform route)."
  value = {
    shop_prod_eu_west_1     = module.shop_prod_eu_west_1.function_arns
    shop_prod_us_east_1     = module.shop_prod_us_east_1.function_arns
    payments_prod_eu_west_1 = module.payments_prod_eu_west_1.function_arns
  }
}
