//! stub
use crate::config::Scenario;
use crate::event::Observer;
use crate::report::RunReport;

#[derive(Debug)]
pub enum RunError { Config(crate::config::ConfigError) }

pub fn run(_s: &Scenario, _o: &mut dyn Observer) -> Result<RunReport, RunError> { todo!() }
