//! DynamoDB tables as the template creates them, for tests, demos and benches.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::create_table::{CreateTableError, CreateTableOutput};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

/// Creates `table` keyed by a string `pk`, on demand: the shape of every
/// toilkit table (WAF ledger, Config state, idempotency).
pub async fn create_pk_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<CreateTableOutput, SdkError<CreateTableError>> {
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("name and key type are set"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
}
