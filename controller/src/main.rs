//! The `wicket` binary: parses the command line, sets up logging and the runtime, runs a
//! subcommand, and maps its outcome to an exit code (0 clean, 2 usage/config, 1 otherwise).

use std::{future::Future, io::Write, process::ExitCode};

use controller::{
    args::{self, CheckArgs, Cli, Command, DemoArgs, EchoArgs, ParseFailure},
    check, demo, echo,
    error::ControllerError,
    listen, logging,
    serve::{self, ServeOptions},
};

/// mimalloc: a rebuild at 5,000 Ingresses is mostly allocation and freeing of small
/// objects, which it does about four times faster than glibc malloc (`cargo bench -p
/// controller --bench rebuild`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match args::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(ParseFailure::Info(info)) => {
            let _ = info.print();
            return ExitCode::SUCCESS;
        }
        Err(ParseFailure::Usage(error)) => return fail(&error),
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => fail(&error),
    }
}

/// One line on stderr, `wicket: <reason>`, and the error's exit code.
fn fail(error: &ControllerError) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "wicket: {error}");
    ExitCode::from(error.exit_code())
}

/// A subcommand whose arguments have been checked.
enum Run {
    Serve(ServeOptions),
    Echo(EchoArgs),
    Demo(DemoArgs),
    Check(CheckArgs),
}

/// Runs the command; `Ok` carries the exit code.
fn run(cli: Cli) -> Result<u8, ControllerError> {
    let command = match cli.command {
        Command::Serve(serve) => Run::Serve(ServeOptions::from_args(&serve)?),
        Command::Echo(echo) => Run::Echo(echo),
        Command::Demo(demo) => Run::Demo(*demo),
        Command::Check(check) => Run::Check(*check),
    };
    logging::init(&cli.log_level, cli.log_format)?;
    proxy::tls::install_crypto_provider();
    if let Run::Check(args) = &command {
        return run_check(args);
    }
    let runtime = runtime()?;
    runtime
        .block_on(async move {
            let shutdown = shutdown_signal()?;
            match command {
                Run::Serve(options) => serve::start(options).await?.run(shutdown).await,
                Run::Echo(echo) => {
                    let listener = listen::bind("echo", echo.listen).await?;
                    echo::serve(listener, &echo.name, shutdown).await
                }
                Run::Demo(demo) => demo::run(demo, shutdown).await,
                Run::Check(args) => run_check(&args).map(|_| ()),
            }
        })
        .map(|()| 0)
}

/// One worker per CPU this process may run on (its affinity mask); with a single CPU, a
/// current-thread runtime, which skips the work-stealing machinery.
fn runtime() -> Result<tokio::runtime::Runtime, ControllerError> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let mut builder = match cpus {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    builder
        .enable_all()
        .build()
        .map_err(ControllerError::Runtime)
}

/// `wicket check`: the report on stdout, exit 0 or 1 (2 for unreadable paths).
fn run_check(args: &CheckArgs) -> Result<u8, ControllerError> {
    let config = args.class.translate_config(&args.tls);
    let findings = check::check(&args.paths, &config)?;
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) does not change the verdict.
    let _ = check::report(&findings, &mut stdout).and_then(|()| stdout.flush());
    Ok(findings.exit_code())
}

/// Completes on the first SIGTERM or SIGINT.
fn shutdown_signal() -> Result<impl Future<Output = ()>, ControllerError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).map_err(ControllerError::Runtime)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ControllerError::Runtime)?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "shutdown requested");
    })
}
