//! Who and what a violating resource is: its ARN, name and tags, from the
//! Resource Groups Tagging API, with Config's own record of the resource
//! when the ARN cannot be derived from the type and id.
//!
//! Enrichment is best effort: a resource that cannot be looked up is still
//! notified (to the default route), and the message says its tags are
//! unknown.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_config::types::ResourceKey as ConfigResourceKey;
use aws_sdk_config::types::ResourceType;

use crate::error::sdk_message;

/// A resource as Config names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceRef {
    pub account: String,
    pub region: String,
    pub resource_type: String,
    pub resource_id: String,
}

/// What was found out about a resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    pub arn: Option<String>,
    pub name: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Set when a lookup failed, so tags may be missing.
    pub lookup_error: Option<String>,
}

fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ARN for types whose Config resource id is the ARN's last part.
/// Types whose id is opaque (RDS `db-...`, IAM `AIDA...`) are looked up in
/// Config instead.
pub fn derive_arn(r: &ResourceRef) -> Option<String> {
    let id = &r.resource_id;
    if id.starts_with("arn:") {
        return Some(id.clone());
    }
    let (p, region, account) = (partition(&r.region), &r.region, &r.account);
    let regional =
        |service: &str, path: &str| format!("arn:{p}:{service}:{region}:{account}:{path}");
    Some(match r.resource_type.as_str() {
        "AWS::S3::Bucket" => format!("arn:{p}:s3:::{id}"),
        "AWS::EC2::SecurityGroup" => regional("ec2", &format!("security-group/{id}")),
        "AWS::EC2::Instance" => regional("ec2", &format!("instance/{id}")),
        "AWS::EC2::Volume" => regional("ec2", &format!("volume/{id}")),
        "AWS::EC2::VPC" => regional("ec2", &format!("vpc/{id}")),
        "AWS::EC2::Subnet" => regional("ec2", &format!("subnet/{id}")),
        "AWS::EC2::NetworkAcl" => regional("ec2", &format!("network-acl/{id}")),
        "AWS::EC2::InternetGateway" => regional("ec2", &format!("internet-gateway/{id}")),
        "AWS::EC2::RouteTable" => regional("ec2", &format!("route-table/{id}")),
        "AWS::EC2::NatGateway" => regional("ec2", &format!("natgateway/{id}")),
        "AWS::DynamoDB::Table" => regional("dynamodb", &format!("table/{id}")),
        "AWS::Lambda::Function" => regional("lambda", &format!("function:{id}")),
        "AWS::KMS::Key" => regional("kms", &format!("key/{id}")),
        "AWS::EFS::FileSystem" => regional("elasticfilesystem", &format!("file-system/{id}")),
        _ => return None,
    })
}

/// Looks resources up.
#[derive(Debug, Clone)]
pub struct Enricher {
    tagging: aws_sdk_resourcegroupstagging::Client,
    config: aws_sdk_config::Client,
    /// Builds tagging clients for resources in other regions of the account
    /// (forwarded events, an aggregator's digest); without it only the home
    /// region's tags are read.
    sdk: Option<aws_types::SdkConfig>,
    regional: Arc<Mutex<HashMap<String, aws_sdk_resourcegroupstagging::Client>>>,
}

impl Enricher {
    pub fn new(
        tagging: aws_sdk_resourcegroupstagging::Client,
        config: aws_sdk_config::Client,
    ) -> Self {
        Self {
            tagging,
            config,
            sdk: None,
            regional: Arc::default(),
        }
    }

    /// Reads tags in every region, with clients built from `sdk`.
    pub fn with_regions(mut self, sdk: &aws_types::SdkConfig) -> Self {
        self.sdk = Some(sdk.clone());
        self
    }

    /// The tagging client for an ARN's region (global ARNs: the home region).
    fn tagging_for(&self, region: &str) -> aws_sdk_resourcegroupstagging::Client {
        let Some(sdk) = &self.sdk else {
            return self.tagging.clone();
        };
        let home = sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_default();
        if region.is_empty() || region == home {
            return self.tagging.clone();
        }
        let mut clients = self.regional.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_resourcegroupstagging::config::Builder::from(sdk)
                    .region(aws_types::region::Region::new(region.to_owned()))
                    .build();
                aws_sdk_resourcegroupstagging::Client::from_conf(config)
            })
            .clone()
    }

    /// One resource; what could not be found out is left empty, with the
    /// reason in `lookup_error`.
    pub async fn lookup(&self, r: &ResourceRef) -> Resource {
        self.enrich(std::slice::from_ref(r))
            .await
            .remove(r)
            .unwrap_or_default()
    }

    /// Every resource in `refs`, looked up in as few calls as possible.
    pub async fn enrich(&self, refs: &[ResourceRef]) -> HashMap<ResourceRef, Resource> {
        let mut found: HashMap<ResourceRef, Resource> = refs
            .iter()
            .map(|r| {
                let resource = Resource {
                    arn: derive_arn(r),
                    ..Resource::default()
                };
                (r.clone(), resource)
            })
            .collect();
        let unknown: Vec<ResourceRef> = found
            .iter()
            .filter(|(_, res)| res.arn.is_none())
            .map(|(r, _)| r.clone())
            .collect();
        for chunk in unknown.chunks(100) {
            self.config_record(chunk, &mut found).await;
        }
        let mut by_arn: HashMap<String, Vec<ResourceRef>> = HashMap::new();
        for (r, res) in &found {
            if let Some(arn) = &res.arn {
                by_arn.entry(arn.clone()).or_default().push(r.clone());
            }
        }
        let mut by_region: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for arn in by_arn.keys() {
            let region = arn.split(':').nth(3).unwrap_or_default().to_owned();
            by_region.entry(region).or_default().push(arn.clone());
        }
        let chunks = by_region
            .iter()
            .flat_map(|(region, arns)| arns.chunks(100).map(move |chunk| (region.as_str(), chunk)));
        for (region, chunk) in chunks {
            let client = self.tagging_for(region);
            if let Err(error) = tags(&client, chunk, &by_arn, &mut found).await {
                tracing::warn!(%error, "resource tags could not be read");
                for arn in chunk {
                    for r in &by_arn[arn] {
                        if let Some(res) = found.get_mut(r) {
                            res.lookup_error = Some(error.clone());
                        }
                    }
                }
            }
        }
        for res in found.values_mut() {
            if let Some(name) = res.tags.get("Name") {
                res.name = Some(name.clone());
            }
        }
        found
    }

    /// Config's record of resources whose ARN cannot be derived: ARN and name.
    async fn config_record(
        &self,
        refs: &[ResourceRef],
        found: &mut HashMap<ResourceRef, Resource>,
    ) {
        let keys: Vec<ConfigResourceKey> = refs
            .iter()
            .filter_map(|r| {
                ConfigResourceKey::builder()
                    .resource_type(ResourceType::from(r.resource_type.as_str()))
                    .resource_id(&r.resource_id)
                    .build()
                    .ok()
            })
            .collect();
        match self
            .config
            .batch_get_resource_config()
            .set_resource_keys(Some(keys))
            .send()
            .await
        {
            Ok(out) => {
                for item in out.base_configuration_items() {
                    let Some(r) = refs.iter().find(|r| {
                        item.resource_id() == Some(r.resource_id.as_str())
                            && item.resource_type().map(|t| t.as_str())
                                == Some(r.resource_type.as_str())
                    }) else {
                        continue;
                    };
                    if let Some(res) = found.get_mut(r) {
                        res.arn = item.arn().map(str::to_owned);
                        res.name = item.resource_name().map(str::to_owned);
                    }
                }
            }
            Err(e) => {
                let error = format!("Config BatchGetResourceConfig: {}", sdk_message(e));
                tracing::warn!(%error, "resource configuration could not be read");
                for r in refs {
                    if let Some(res) = found.get_mut(r) {
                        res.lookup_error = Some(error.clone());
                    }
                }
            }
        }
    }
}

/// Tags of up to 100 ARNs of one region.
async fn tags(
    tagging: &aws_sdk_resourcegroupstagging::Client,
    arns: &[String],
    by_arn: &HashMap<String, Vec<ResourceRef>>,
    found: &mut HashMap<ResourceRef, Resource>,
) -> Result<(), String> {
    let mut token: Option<String> = None;
    loop {
        let out = tagging
            .get_resources()
            .set_resource_arn_list(Some(arns.to_vec()))
            .set_pagination_token(token.take())
            .send()
            .await
            .map_err(|e| format!("tagging GetResources: {}", sdk_message(e)))?;
        for mapping in out.resource_tag_mapping_list() {
            let Some(refs) = mapping.resource_arn().and_then(|a| by_arn.get(a)) else {
                continue;
            };
            let tags: BTreeMap<String, String> = mapping
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect();
            for r in refs {
                if let Some(res) = found.get_mut(r) {
                    res.tags = tags.clone();
                }
            }
        }
        match out.pagination_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: &str, id: &str, region: &str) -> ResourceRef {
        ResourceRef {
            account: "123456789012".into(),
            region: region.into(),
            resource_type: kind.into(),
            resource_id: id.into(),
        }
    }

    #[test]
    fn arns_are_derived_where_the_id_determines_them() {
        assert_eq!(
            derive_arn(&r("AWS::EC2::SecurityGroup", "sg-1", "eu-west-1")).as_deref(),
            Some("arn:aws:ec2:eu-west-1:123456789012:security-group/sg-1")
        );
        assert_eq!(
            derive_arn(&r("AWS::S3::Bucket", "logs", "cn-north-1")).as_deref(),
            Some("arn:aws-cn:s3:::logs")
        );
        assert_eq!(
            derive_arn(&r(
                "AWS::SNS::Topic",
                "arn:aws:sns:us-east-1:1:t",
                "us-east-1"
            ))
            .as_deref(),
            Some("arn:aws:sns:us-east-1:1:t")
        );
        assert_eq!(
            derive_arn(&r("AWS::RDS::DBInstance", "db-ABC", "us-east-1")),
            None
        );
    }
}
