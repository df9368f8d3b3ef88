use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = baton_server::config::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(baton_server::serve::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole context chain: what failed and why, on one line.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
