//! placeholder until the parser lands
use simnet_sim::config::Scenario;
use std::path::Path;
#[derive(Debug)]
pub struct ScenarioError(pub String);
impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
pub fn load(_p: &Path) -> Result<Scenario, ScenarioError> {
    Err(ScenarioError("not yet".into()))
}
