//! DynamoDB tables as the template creates them, for tests, demos and benches.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::create_table::{CreateTableError, CreateTableOutput};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, Tag,
};

/// Creates `table` keyed by a string `pk`, on demand: the shape of every
/// toilkit table (WAF ledger, Config state, idempotency).
pub async fn create_pk_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<CreateTableOutput, SdkError<CreateTableError>> {
    create_tagged_table(client, table, "pk", &[]).await
}

/// Creates `table` keyed by the string `key`, on demand, with `tags`: a
/// resource that a function finds by its tags (an owner, an exemption).
pub async fn create_tagged_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: &str,
    tags: &[(&str, &str)],
) -> Result<CreateTableOutput, SdkError<CreateTableError>> {
    let mut request = client
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .expect("name and key type are set"),
        )
        .billing_mode(BillingMode::PayPerRequest);
    for (key, value) in tags {
        request = request.tags(
            Tag::builder()
                .key(*key)
                .value(*value)
                .build()
                .expect("key and value are set"),
        );
    }
    request.send().await
}

/// Creates `table` keyed by the strings `pk` and `sk`, on demand: the hub's
/// state table.
pub async fn create_pk_sk_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<CreateTableOutput, SdkError<CreateTableError>> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("name and key type are set")
    };
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
}
