//! `ProjectStore` on one DynamoDB table.
//!
//! Keys (the table of `infra/template.yaml`): `PK=PROJECT#{id}` with `SK=META`, `MSG#{id}`,
//! `VER#{n:010}`, `RUN#{id}`, `DEP#{env}#{id}`, and `CLIENT#{client_id}` for idempotent posts;
//! `GSI1PK=OWNER#{owner}`, `GSI1SK={updated}#{id}` lists an owner's projects; the sparse index
//! `LIVE` (`LIVEPK=LIVE#RUN#{shard}` or `LIVE#DEP#{shard}`, `LIVESK={id}`, keys only) holds the
//! queued and running runs and the pending and running deployments, and nothing else;
//! `OWNER#{owner}`/`PROJECTS` counts an owner's projects. Nothing reads the whole table. Every
//! item keeps its entity as JSON in `doc`; a project's item also keeps its summary in
//! `summary`, which lists read instead of the document, and checks of its owner read
//! `GSI1PK` alone; a message's item keeps the shape its `doc` was written in, `format`
//! (`model::MESSAGE_FORMAT`), and a page of the conversation hands out a doc in this build's
//! shape as stored.
//!
//! `items` maps entities to items and back, `table` holds the reads, writes and queries
//! the operations are made of, `queries` the `ProjectStore` operations.

mod items;
mod lists;
mod queries;
mod table;

use aws_sdk_dynamodb::Client;

/// The DynamoDB backend.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// The IAM actions this store calls (a transaction's puts and condition checks are
    /// authorised one by one; `BatchWriteItem` covers its deletes). `tests/iam.rs` derives them
    /// from the calls in this module and checks both against the template.
    pub const IAM_ACTIONS: &'static [&'static str] = &[
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
    ];

    /// A store on `table`, which must exist: the SAM template (`infra/template.yaml`) declares
    /// it, and the AWS tests create it from there.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }
}
