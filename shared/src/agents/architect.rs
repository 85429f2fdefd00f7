//! The architect: turns the spec into a design (endpoints, data model, stack) and explains it.

use serde_json::{json, Value};

use super::{post, update_project, AgentContext, AgentError, Step};
use crate::generator::design_for;
use crate::model::{Agent, Block, Message, RunInput};

/// Designs the app from the current spec and replies with the plan.
pub(super) async fn design(ctx: &AgentContext, input: &RunInput) -> Result<Value, AgentError> {
    let mut changed = false;
    let project = update_project(ctx, input.project_id, |project| {
        let Some(spec) = &project.spec else {
            return Ok(false);
        };
        let design = design_for(spec);
        changed = project.design.as_ref() != Some(&design);
        project.design = Some(design);
        Ok(changed)
    })
    .await?;
    let Some(design) = project.design.filter(|_| project.spec.is_some()) else {
        return Ok(Value::Null);
    };
    let spec = project.spec.unwrap_or_default();
    if spec.resources.is_empty() {
        return Ok(json!({"changed": changed}));
    }
    let text = format!(
        "Here is the plan: {} resource(s) ({}), {} endpoints, built with {}. Say \"build it\" when it looks right, or keep refining.",
        spec.resources.len(),
        spec.resources.iter().map(|r| r.plural.as_str()).collect::<Vec<_>>().join(", "),
        design.endpoints.len(),
        design.stack.join(", "),
    );
    let mut reply = Message::from_agent(input.project_id, Agent::Architect, input.run_id, text);
    reply.blocks.push(Block::Plan {
        title: "Endpoints".into(),
        items: design.endpoint_lines(),
    });
    reply.blocks.push(Block::Plan {
        title: "Data model".into(),
        items: design.data_model.clone(),
    });
    post(ctx, input, (Step::Architect, "plan"), reply).await?;
    Ok(json!({"changed": changed}))
}
