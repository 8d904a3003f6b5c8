fn main() -> std::process::ExitCode {
    vpce_rollout::cli::main()
}
