using Kiln.AppHost.Containers;
using Kiln.AppHost.Health;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.Provisioning;
using Npgsql;

namespace Kiln.AppHost.Resources;

/// <summary>
/// A PostgreSQL server. Local mode runs the machine's server binaries (as the <c>postgres</c> user when
/// the AppHost is root), scram-sha-256 over TCP on loopback only, data kept under <c>.apphost/</c>;
/// its databases are created once it is ready, each owned by a login role of its own
/// (<c>{database}_owner</c>: no superuser, no CREATEDB or CREATEROLE, the only role besides the superuser
/// that may connect to it), which is the one its connection string hands to the services: they may
/// migrate and use their own database and nothing else. Existing mode uses the configured connection string.
/// </summary>
internal sealed class PostgresServerResource(string name) : Resource(name)
{
    private const string SuperUser = "postgres";
    private SupervisedProcess? _process;
    private ContainerEngine? _engine; // set only in container mode
    private string? _existingConnectionString;
    private string? _databasePassword;

    public override string Type => "postgres";

    public int Port { get; private set; }

    public ResourceMode Mode { get; private set; }

    internal List<PostgresDatabaseResource> Databases { get; } = [];

    internal string? Password { get; private set; }

    private const string ContainerDataPath = "/var/lib/postgresql/data";

    private bool HasExisting(RunContext context) =>
        context.ExistingConnectionString(Name) is not null
        || (Databases.Count > 0 && Databases.All(d => context.ExistingConnectionString(d.Name) is not null));

    internal override IEnumerable<Prerequisite> Prerequisites(RunContext context)
    {
        if (context.ModeFor(Name, HasExisting(context)) != ResourceMode.Local)
        {
            yield break;
        }

        yield return new Prerequisite("PostgreSQL server binaries (postgres, initdb)", () => FindBinDirectory() is not null, ["postgresql"]);
    }

    internal string ConnectionStringFor(string database)
    {
        if (Mode == ResourceMode.Existing)
        {
            return new NpgsqlConnectionStringBuilder(_existingConnectionString) { Database = database }.ConnectionString;
        }

        return new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = OwnerOf(database),
            Password = _databasePassword,
            Database = database,
        }.ConnectionString;
    }

    /// <summary>The login role that owns <paramref name="database"/> and that its services use.</summary>
    internal static string OwnerOf(string database) => database + "_owner";

    internal override async Task StartAsync(RunContext context, CancellationToken cancellationToken)
    {
        if (context.ExistingConnectionString(Name) is { } existing)
        {
            Mode = ResourceMode.Existing;
            _existingConnectionString = existing;
            context.Say($"{Name}: existing server (ConnectionStrings__{Name}); nothing started");
            await CreateDatabasesAsync(existing, cancellationToken);
            return;
        }

        if (Databases.Count > 0 && Databases.All(d => context.ExistingConnectionString(d.Name) is not null))
        {
            Mode = ResourceMode.Existing;
            context.Say($"{Name}: existing databases configured; nothing started");
            return;
        }

        if (context.ModeFor(Name, hasExistingConnectionString: false) == ResourceMode.Container)
        {
            await StartContainerAsync(context, cancellationToken);
            return;
        }

        Mode = ResourceMode.Local;
        var bin = FindBinDirectory() ?? throw new ProvisioningException("PostgreSQL server binaries are missing: sudo apt-get install -y postgresql");
        var runAs = Signals.GetEffectiveUserId() == 0 ? SuperUser : null;
        var home = DataHome(context, runAs);
        var dataDir = Path.Combine(home, "data");
        var socketDir = Path.Combine(home, "run");
        // Local connections are trusted (that is how the AppHost sets the password), so only the
        // server's own user may reach the socket: mode 700.
        Directory.CreateDirectory(socketDir);
        File.SetUnixFileMode(socketDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Chown(home, runAs);
        Chown(socketDir, runAs);
        // A restarted server keeps its port: the services were handed it in their connection strings.
        Port = Port == 0 ? PortAllocator.Next() : Port;
        Password = context.Secrets.PostgresPassword;
        _databasePassword = context.Secrets.DatabasePassword;
        var log = context.LogFor(Name);

        if (!File.Exists(Path.Combine(dataDir, "PG_VERSION")))
        {
            context.Say($"{Name}: first run, initialising a database cluster in {dataDir}");
            await InitDbAsync(bin, dataDir, home, runAs, context, log, cancellationToken);
        }

        var server = new ProcessSpec(Path.Combine(bin, "postgres"),
            ["-D", dataDir, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "-c", "listen_addresses=127.0.0.1", "-c", $"unix_socket_directories={socketDir}"])
        {
            RunAsUser = runAs,
            StopSignal = Signals.SigInt,
        };

        // Restarted after a crash on the same port and data folder; crash recovery replays the WAL, so
        // every committed transaction is still there.
        _process = Supervise(context,
            log => ChildProcess.StartAsync(server, log, context.Processes),
            (process, ct) => WaitUntilReadyAsync(process, socketDir, ct),
            stopGrace: TimeSpan.FromSeconds(10));
        await _process.StartAsync(cancellationToken);
    }

    /// <summary>
    /// Container mode: Kiln's PostgreSQL image (or <c>Kiln:Resources:{name}:Image</c>, e.g. the official postgres:15, whose
    /// environment contract it shares), the superuser's password from secrets.json through an env file, port 5432
    /// published on 127.0.0.1, the cluster in a named volume. Ready once the superuser logs in over TCP from the host;
    /// then the databases and their owners are made exactly as in local mode.
    /// </summary>
    private async Task StartContainerAsync(RunContext context, CancellationToken cancellationToken)
    {
        Mode = ResourceMode.Container;
        var engine = context.ContainerEngine!;
        _engine = engine;
        context.RememberContainers(engine);
        Port = Port == 0 ? PortAllocator.Next() : Port;
        Password = context.Secrets.PostgresPassword;
        _databasePassword = context.Secrets.DatabasePassword;
        var container = new BackingContainer(Name, ContainerImages.PostgresImage);
        context.Say($"{Name}: container mode, image {container.Image(context)}, data in volume {engine.VolumeName(Name)}");
        await container.PrepareAsync(context, engine, ContainerDataPath, cancellationToken);
        var spec = container.RunSpec(context, engine, new ContainerOptions
        {
            Secrets = new Dictionary<string, string> { ["POSTGRES_USER"] = SuperUser, ["POSTGRES_PASSWORD"] = Password },
            Ports = [(Port, 5432)],
            DataVolumePath = ContainerDataPath,
            StopSignal = Signals.SigInt,
        });
        var superuser = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = Port, Username = SuperUser, Password = Password, Database = "postgres", Timeout = 3, Pooling = false,
        }.ConnectionString;
        _process = Supervise(context,
            log => ChildProcess.StartAsync(spec, log, context.Processes),
            async (process, ct) =>
            {
                // A first start creates the cluster (initdb) before the server listens; a loaded machine may take a while.
                await HealthProbe.WaitForPostgresAsync(Name, superuser, process.Exited, TimeSpan.FromSeconds(120), ct);
                await CreateDatabasesAsync(superuser, ct);
                await GiveDatabasesToOwnersAsync(superuser, ct);
            },
            stopGrace: TimeSpan.FromSeconds(15));
        await _process.StartAsync(cancellationToken);
    }

    /// <summary>The postmaster's process id while it runs.</summary>
    public int? Pid => _process?.Pid;

    private async Task WaitUntilReadyAsync(ChildProcess process, string socketDir, CancellationToken cancellationToken)
    {
        // Trust over the owner-only Unix socket lets the AppHost (re)set the password from secrets.json
        // each start, so data kept across runs always matches the current secret.
        // Unpooled: a pooled connection would outlive a restart of the server and fail on first use.
        var local = new NpgsqlConnectionStringBuilder { Host = socketDir, Port = Port, Username = SuperUser, Database = "postgres", Timeout = 3, Pooling = false }.ConnectionString;
        await HealthProbe.WaitForPostgresAsync(Name, local, process.Exited, TimeSpan.FromSeconds(60), cancellationToken);

        await using (var connection = new NpgsqlConnection(local))
        {
            await connection.OpenAsync(cancellationToken);
            // ALTER ROLE takes no parameters; the password is [A-Za-z0-9] by construction.
            await using var command = new NpgsqlCommand($"ALTER ROLE {SuperUser} PASSWORD '{Password}'", connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await CreateDatabasesAsync(local, cancellationToken);
        await GiveDatabasesToOwnersAsync(local, cancellationToken);
    }

    internal override Task StopAsync() => BackingContainer.StopAsync(_process, _engine, Name);

    internal override object? DescribeEndpoint() => Mode == ResourceMode.Existing ? null : new { endpoint = $"127.0.0.1:{Port}" };

    internal override IReadOnlyList<(string Name, Uri Url)> Endpoints =>
        Mode != ResourceMode.Existing && Port != 0 ? [("tcp", new Uri($"tcp://127.0.0.1:{Port}"))] : [];

    private async Task CreateDatabasesAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        foreach (var database in Databases)
        {
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
            exists.Parameters.AddWithValue(database.DatabaseName);
            if (await exists.ExecuteScalarAsync(cancellationToken) is null)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.DatabaseName}\"", connection);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
        }
    }

    /// <summary>
    /// Makes each database's role (created if need be, its password set from secrets.json on every start) the owner
    /// of the database and of every table in it, and the only role besides the superuser that may connect to it;
    /// the server's own databases (<c>postgres</c>, <c>template1</c>) are the superuser's alone.
    /// A database kept from before the roles existed has its tables owned by the superuser; they change hands here.
    /// Identifiers are quoted; the password is [A-Za-z0-9] by construction (DDL takes no parameters).
    /// </summary>
    private async Task GiveDatabasesToOwnersAsync(string superuser, CancellationToken cancellationToken)
    {
        foreach (var database in Databases)
        {
            var owner = Quote(OwnerOf(database.DatabaseName));
            var name = Quote(database.DatabaseName);
            await using (var server = new NpgsqlConnection(superuser))
            {
                await server.OpenAsync(cancellationToken);
                await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_roles WHERE rolname = $1", server);
                exists.Parameters.AddWithValue(OwnerOf(database.DatabaseName));
                var create = await exists.ExecuteScalarAsync(cancellationToken) is null ? $"CREATE ROLE {owner};" : "";
                await using var grant = new NpgsqlCommand($"""
                    {create}
                    ALTER ROLE {owner} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '{_databasePassword}';
                    ALTER DATABASE {name} OWNER TO {owner};
                    REVOKE ALL ON DATABASE {name} FROM PUBLIC;
                    REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
                    REVOKE CONNECT ON DATABASE template1 FROM PUBLIC;
                    """, server);
                await grant.ExecuteNonQueryAsync(cancellationToken);
            }

            await using var inside = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(superuser) { Database = database.DatabaseName }.ConnectionString);
            await inside.OpenAsync(cancellationToken);
            await using var tables = new NpgsqlCommand($"""
                DO $$
                DECLARE t record;
                BEGIN
                  FOR t IN SELECT schemaname, tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner <> {Literal(OwnerOf(database.DatabaseName))} LOOP
                    EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', t.schemaname, t.tablename, {Literal(OwnerOf(database.DatabaseName))});
                  END LOOP;
                END $$;
                """, inside);
            await tables.ExecuteNonQueryAsync(cancellationToken);
        }

        static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";
    }

    private async Task InitDbAsync(string bin, string dataDir, string home, string? runAs, RunContext context, ResourceLog log, CancellationToken cancellationToken)
    {
        var passwordFile = Path.Combine(home, "initdb.pw");
        OwnerOnlyFile.Write(passwordFile, Password!);
        Chown(passwordFile, runAs);
        try
        {
            var initdb = await ChildProcess.StartAsync(new ProcessSpec(Path.Combine(bin, "initdb"),
                ["-D", dataDir, "-U", SuperUser, "-E", "UTF8", "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256", $"--pwfile={passwordFile}"])
            {
                RunAsUser = runAs,
            }, log, context.Processes);
            var exitCode = await initdb.Exited.WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
            if (exitCode != 0)
            {
                throw new ResourceFailedException(Name, $"{Name}: initdb failed with exit code {exitCode}; its output is above.");
            }
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    /// <summary>
    /// <c>.apphost/{name}</c> when the server's user can reach it. A state folder under a private
    /// parent (a mode-700 home or temp folder) is out of the postgres user's reach; the data then lives
    /// in /var/tmp, in a folder named for the state folder, which --fresh wipes too.
    /// </summary>
    private string DataHome(RunContext context, string? runAs)
    {
        var home = context.State.For(Name);
        if (runAs is null || CanReach(runAs, home))
        {
            return home;
        }

        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(context.State.Root)))[..16];
        var outside = Path.Combine("/var/tmp", $"kiln-{Name}-{hash}");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(home, "LOCATION"), outside + Environment.NewLine);
        return outside;
    }

    private static bool CanReach(string user, string directory)
    {
        using var test = System.Diagnostics.Process.Start("setpriv", ["--reuid=" + user, "--regid=" + user, "--init-groups", "test", "-x", directory]);
        test.WaitForExit();
        return test.ExitCode == 0;
    }

    private static void Chown(string path, string? user)
    {
        if (user is null)
        {
            return;
        }

        using var chown = System.Diagnostics.Process.Start("chown", ["-R", $"{user}:{user}", path]);
        chown.WaitForExit();
    }

    private static string? FindBinDirectory()
    {
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            var newest = Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "postgres")) && File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
                .FirstOrDefault();
            if (newest is not null)
            {
                return newest;
            }
        }

        return Prerequisite.FindOnPath("postgres") is { } postgres && Prerequisite.FindOnPath("initdb") is not null
            ? Path.GetDirectoryName(postgres)
            : null;
    }
}

/// <summary>A database on a PostgreSQL server; services get its connection string.</summary>
internal sealed class PostgresDatabaseResource(string name, string databaseName, PostgresServerResource server)
    : Resource(name), IResourceWithConnectionString
{
    public override string Type => "postgres-database";

    public string DatabaseName { get; } = databaseName;

    public PostgresServerResource Server { get; } = server;

    private string? _existing;

    /// <summary>The configured one in existing mode, else the server's with this database.</summary>
    public string ConnectionString => _existing ?? Server.ConnectionStringFor(DatabaseName);

    internal override Task StartAsync(RunContext context, CancellationToken cancellationToken)
    {
        _existing = context.ExistingConnectionString(Name);
        return Task.CompletedTask;
    }

    internal override Task StopAsync() => Task.CompletedTask;

    internal override object? DescribeEndpoint() => null;

    /// <summary>It has no process of its own: stopping it would stop nothing.</summary>
    internal override bool CanStopAndStart => false;
}

internal static class PostgresResourceExtensions
{
    public static ResourceBuilder<PostgresServerResource> AddPostgres(this DistributedApplicationBuilder builder, string name) =>
        builder.AddResource(new PostgresServerResource(name));

    /// <summary>A database created on the server when it is ready; waiting for it waits for the server.</summary>
    public static ResourceBuilder<PostgresDatabaseResource> AddDatabase(this ResourceBuilder<PostgresServerResource> server, string name,
        string? databaseName = null)
    {
        var database = new PostgresDatabaseResource(name, databaseName ?? name, server.Resource);
        database.WaitsFor.Add(server.Resource);
        server.Resource.Databases.Add(database);
        return server.ApplicationBuilder.AddResource(database);
    }
}
