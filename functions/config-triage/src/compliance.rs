//! Every open violation, from AWS Config's compliance APIs (paginated), or
//! from an aggregator's when `AGGREGATOR_NAME` is set.

use aws_sdk_config::Client;
use aws_sdk_config::types::{
    ComplianceType, ConfigRuleComplianceFilters, EvaluationResultIdentifier,
};
use shared::Deadline;

use crate::error::Error;

/// One resource a rule finds non-compliant now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenViolation {
    pub rule: String,
    pub account: String,
    pub region: String,
    pub resource_type: String,
    pub resource_id: String,
    pub annotation: Option<String>,
    /// When the change that was evaluated happened (epoch seconds).
    pub evaluated_at: Option<i64>,
}

/// The listing, and whether it stopped early (deadline).
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub violations: Vec<OpenViolation>,
    pub rules: usize,
    pub pages: usize,
    pub stopped_early: bool,
}

fn config_error(
    operation: &'static str,
    context: String,
    e: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Config {
        operation,
        context,
        source: shared::aws::cause(e),
    }
}

fn qualifier(id: Option<&EvaluationResultIdentifier>) -> (String, String, Option<i64>) {
    let q = id.and_then(|i| i.evaluation_result_qualifier());
    (
        q.and_then(|q| q.resource_type())
            .unwrap_or_default()
            .to_owned(),
        q.and_then(|q| q.resource_id())
            .unwrap_or_default()
            .to_owned(),
        id.and_then(|i| i.ordering_timestamp()).map(|t| t.secs()),
    )
}

/// The next page, unless the deadline has passed: one rule can have
/// thousands of results, so the time left is checked before every page, not
/// only between rules.
async fn next_page<T, E>(
    pages: &mut aws_smithy_async::future::pagination_stream::PaginationStream<Result<T, E>>,
    deadline: &Deadline,
    listing: &mut Listing,
) -> Option<Result<T, E>> {
    if deadline.expired() {
        listing.stopped_early = true;
        return None;
    }
    pages.next().await
}

/// Whether `rule` still finds the resource non-compliant, asked of Config
/// for that one resource (`GetComplianceDetailsByResource`): the held
/// violations are checked this way before the long listing, so they are
/// announced even when the listing never finishes. `Some` holds its current
/// evaluation.
pub async fn still_open(
    client: &Client,
    account: &str,
    region: &str,
    rule: &str,
    resource_type: &str,
    resource_id: &str,
    deadline: &Deadline,
) -> Result<Option<OpenViolation>, Error> {
    let mut token: Option<String> = None;
    loop {
        if deadline.expired() {
            return Err(Error::Config {
                operation: "GetComplianceDetailsByResource",
                context: format!(" for {resource_type} {resource_id}"),
                source: "deadline reached".into(),
            });
        }
        let out = client
            .get_compliance_details_by_resource()
            .resource_type(resource_type)
            .resource_id(resource_id)
            .compliance_types(ComplianceType::NonCompliant)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                config_error(
                    "GetComplianceDetailsByResource",
                    format!(" for {resource_type} {resource_id}"),
                    e,
                )
            })?;
        for result in out.evaluation_results() {
            let id = result.evaluation_result_identifier();
            let named = id
                .and_then(|i| i.evaluation_result_qualifier())
                .and_then(|q| q.config_rule_name());
            if named == Some(rule)
                && result.compliance_type() == Some(&ComplianceType::NonCompliant)
            {
                let (_, _, evaluated_at) = qualifier(id);
                return Ok(Some(OpenViolation {
                    rule: rule.to_owned(),
                    account: account.to_owned(),
                    region: region.to_owned(),
                    resource_type: resource_type.to_owned(),
                    resource_id: resource_id.to_owned(),
                    annotation: result.annotation().map(str::to_owned),
                    evaluated_at,
                }));
            }
        }
        match out.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(None),
        }
    }
}

/// This account's and region's violations.
pub async fn list_account(
    client: &Client,
    account: &str,
    region: &str,
    deadline: &Deadline,
) -> Result<Listing, Error> {
    let mut listing = Listing::default();
    let mut rules = Vec::new();
    let mut pages = client
        .describe_compliance_by_config_rule()
        .compliance_types(ComplianceType::NonCompliant)
        .into_paginator()
        .send();
    while let Some(page) = next_page(&mut pages, deadline, &mut listing).await {
        let page =
            page.map_err(|e| config_error("DescribeComplianceByConfigRule", String::new(), e))?;
        listing.pages += 1;
        rules.extend(
            page.compliance_by_config_rules()
                .iter()
                .filter(|c| {
                    c.compliance().and_then(|c| c.compliance_type())
                        == Some(&ComplianceType::NonCompliant)
                })
                .filter_map(|c| c.config_rule_name().map(str::to_owned)),
        );
    }
    listing.rules = rules.len();
    for rule in rules {
        if listing.stopped_early || deadline.expired() {
            listing.stopped_early = true;
            break;
        }
        let mut pages = client
            .get_compliance_details_by_config_rule()
            .config_rule_name(&rule)
            .compliance_types(ComplianceType::NonCompliant)
            .limit(100)
            .into_paginator()
            .send();
        while let Some(page) = next_page(&mut pages, deadline, &mut listing).await {
            let page = page.map_err(|e| {
                config_error(
                    "GetComplianceDetailsByConfigRule",
                    format!(" for rule {rule}"),
                    e,
                )
            })?;
            listing.pages += 1;
            for result in page.evaluation_results() {
                if result.compliance_type() != Some(&ComplianceType::NonCompliant) {
                    continue;
                }
                let (resource_type, resource_id, evaluated_at) =
                    qualifier(result.evaluation_result_identifier());
                listing.violations.push(OpenViolation {
                    rule: rule.clone(),
                    account: account.to_owned(),
                    region: region.to_owned(),
                    resource_type,
                    resource_id,
                    annotation: result.annotation().map(str::to_owned),
                    evaluated_at,
                });
            }
        }
    }
    Ok(listing)
}

/// Every account's and region's violations, through an aggregator.
pub async fn list_aggregate(
    client: &Client,
    aggregator: &str,
    deadline: &Deadline,
) -> Result<Listing, Error> {
    let mut listing = Listing::default();
    let mut rules = Vec::new();
    let mut pages = client
        .describe_aggregate_compliance_by_config_rules()
        .configuration_aggregator_name(aggregator)
        .filters(
            ConfigRuleComplianceFilters::builder()
                .compliance_type(ComplianceType::NonCompliant)
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = next_page(&mut pages, deadline, &mut listing).await {
        let page = page.map_err(|e| {
            config_error(
                "DescribeAggregateComplianceByConfigRules",
                format!(" for aggregator {aggregator}"),
                e,
            )
        })?;
        listing.pages += 1;
        for c in page.aggregate_compliance_by_config_rules() {
            if let (Some(rule), Some(account), Some(region)) =
                (c.config_rule_name(), c.account_id(), c.aws_region())
            {
                rules.push((rule.to_owned(), account.to_owned(), region.to_owned()));
            }
        }
    }
    listing.rules = rules.len();
    for (rule, account, region) in rules {
        if listing.stopped_early || deadline.expired() {
            listing.stopped_early = true;
            break;
        }
        let mut pages = client
            .get_aggregate_compliance_details_by_config_rule()
            .configuration_aggregator_name(aggregator)
            .config_rule_name(&rule)
            .account_id(&account)
            .aws_region(&region)
            .compliance_type(ComplianceType::NonCompliant)
            .limit(100)
            .into_paginator()
            .send();
        while let Some(page) = next_page(&mut pages, deadline, &mut listing).await {
            let page = page.map_err(|e| {
                config_error(
                    "GetAggregateComplianceDetailsByConfigRule",
                    format!(" for rule {rule} in {account}/{region}"),
                    e,
                )
            })?;
            listing.pages += 1;
            for result in page.aggregate_evaluation_results() {
                if result.compliance_type() != Some(&ComplianceType::NonCompliant) {
                    continue;
                }
                let (resource_type, resource_id, evaluated_at) =
                    qualifier(result.evaluation_result_identifier());
                listing.violations.push(OpenViolation {
                    rule: rule.clone(),
                    account: result.account_id().unwrap_or(&account).to_owned(),
                    region: result.aws_region().unwrap_or(&region).to_owned(),
                    resource_type,
                    resource_id,
                    annotation: result.annotation().map(str::to_owned),
                    evaluated_at,
                });
            }
        }
    }
    Ok(listing)
}
