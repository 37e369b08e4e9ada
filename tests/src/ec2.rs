//! moto's default subnets, one copy for the tests and the demo that seed an
//! ALB (it needs two subnets); one EC2 Query call is not worth an EC2 SDK.

use std::error::Error;

use crate::Moto;

/// The first two of moto's default subnets (moto seeds a default VPC in
/// every region).
pub async fn default_subnets(moto: &Moto) -> Result<Vec<String>, Box<dyn Error>> {
    let body = shared::https::client_builder()
        .build()?
        .post(moto.endpoint())
        // moto routes a Query call to its service by the credential scope.
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("Action=DescribeSubnets&Version=2016-11-15")
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let ids: Vec<String> = body
        .split("<subnetId>")
        .skip(1)
        .filter_map(|s| s.split("</subnetId>").next())
        .map(str::to_owned)
        .take(2)
        .collect();
    if ids.len() < 2 {
        return Err(format!("moto has no two default subnets: {body}").into());
    }
    Ok(ids)
}
