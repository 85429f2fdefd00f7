//! What the DynamoDB store keeps of an item beside its document, and items written before it
//! was kept: a project's summary, a message's shape.

use aws_sdk_dynamodb::types::AttributeValue;
use kiln::model::{Owner, Project};
use kiln::store::{conformance, PageRequest, ProjectStore};
use kiln_integration_tests::Moto;

use super::stores;

/// A list reads each project's summary attribute and the keys, not its document; a project
/// written before summaries were kept (only `doc`) is listed and searched from its document.
#[tokio::test]
async fn lists_read_summaries_and_projects_without_one_from_their_document() {
    let moto = Moto::start();
    let (store, _) = stores(&moto).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let owner = Owner("summaries".into());
    let mut old = Project::new(owner.clone(), "Older Orders".into(), "before".into());
    old.updated_at -= time::Duration::seconds(10);
    let new = Project::new(owner.clone(), "Newer Notes".into(), "after".into());
    for p in [&old, &new] {
        store.create_project(p).await.unwrap();
    }
    // As an older Kiln wrote it: no summary.
    dynamo
        .update_item()
        .table_name("kiln-test")
        .key("PK", AttributeValue::S(format!("PROJECT#{}", old.id)))
        .key("SK", AttributeValue::S("META".into()))
        .update_expression("REMOVE #s")
        .expression_attribute_names("#s", "summary")
        .send()
        .await
        .unwrap();
    let listed = store
        .list_projects(&owner, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items, vec![new.summary(), old.summary()]);
    let found = store
        .search_projects(&owner, "orders", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(found.items, vec![old.summary()]);

    // The summary attribute is what a list shows: changed beside the document, the list
    // shows the change (a list that read the document would not).
    let mut renamed = new.summary();
    renamed.name = "Renamed in the summary only".into();
    dynamo
        .update_item()
        .table_name("kiln-test")
        .key("PK", AttributeValue::S(format!("PROJECT#{}", new.id)))
        .key("SK", AttributeValue::S("META".into()))
        .update_expression("SET #s = :s")
        .expression_attribute_names("#s", "summary")
        .expression_attribute_values(
            ":s",
            AttributeValue::S(serde_json::to_string(&renamed).unwrap()),
        )
        .send()
        .await
        .unwrap();
    let listed = store
        .list_projects(&owner, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items[0].name, "Renamed in the summary only");
}

/// Messages in this build's shape and in none (no `format` attribute, as items written before
/// it was kept have).
#[tokio::test]
async fn messages_are_answered_as_stored_only_in_this_builds_shape() {
    let moto = Moto::start();
    let (store, _) = stores(&moto).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let write = |project: uuid::Uuid, id: uuid::Uuid, doc: String, format: Option<i64>| {
        let mut put = dynamo
            .put_item()
            .table_name("kiln-test")
            .item("PK", AttributeValue::S(format!("PROJECT#{project}")))
            .item("SK", AttributeValue::S(format!("MSG#{id}")))
            .item("doc", AttributeValue::S(doc));
        if let Some(format) = format {
            put = put.item("format", AttributeValue::N(format.to_string()));
        }
        // DynamoDB keeps whatever it is given.
        async move {
            put.send().await.unwrap();
            true
        }
    };
    conformance::messages_are_answered_as_stored_only_in_this_builds_shape(store.as_ref(), write)
        .await;
}
