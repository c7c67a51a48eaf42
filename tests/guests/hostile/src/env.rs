//! `/escape/env`: what the guest can learn about its host's process.

use wasip2::cli::environment;

use crate::json::{self, Object};

/// Renders every view of the environment, arguments and working directory the guest has.
pub fn report() -> String {
    let std_vars: Vec<String> = std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect();
    let std_args: Vec<String> =
        std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let std_cwd = json::outcome(std::env::current_dir(), |p| p.display().to_string());
    let wasi_vars: Vec<String> =
        environment::get_environment().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let wasi_args = environment::get_arguments();
    let wasi_cwd = match environment::initial_cwd() {
        Some(cwd) => json::string(&cwd),
        None => "null".to_string(),
    };
    Object::new()
        .raw("std_vars", json::strings(&std_vars))
        .raw("std_args", json::strings(&std_args))
        .string("std_cwd", &std_cwd)
        .raw("environment", json::strings(&wasi_vars))
        .raw("arguments", json::strings(&wasi_args))
        .raw("initial_cwd", wasi_cwd)
        .finish()
}
