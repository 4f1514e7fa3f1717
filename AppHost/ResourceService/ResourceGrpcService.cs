using System.Reflection;
using System.Threading.Channels;
using Grpc.Core;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using V1 = Kiln.ResourceService.V1;

namespace Kiln.AppHost.ResourceService;

/// <summary>
/// The calls of <c>resource_service.proto</c>. One instance per call (gRPC's way); what lasts lives in
/// <see cref="ResourceFeed"/> and the app model. Every stream also ends when the AppHost's feed does.
/// </summary>
internal sealed class ResourceGrpcService(DistributedApplication app, ResourceFeed feed) : V1.ResourceService.ResourceServiceBase
{
    /// <summary>Each watcher of a console log holds at most this many undelivered lines; past it the oldest go first.</summary>
    public const int ConsoleBacklog = 10_000;

    /// <summary>A longer line is cut here; an update holds lines up to this many characters (UTF-8: under 4 MB).</summary>
    public const int MaxUpdateCharacters = 1024 * 1024;

    public override Task<V1.ApplicationInformationResponse> GetApplicationInformation(V1.ApplicationInformationRequest request, ServerCallContext context)
    {
        var assembly = typeof(DistributedApplication).Assembly;
        var name = assembly.GetName().Name ?? "Kiln";
        return Task.FromResult(new V1.ApplicationInformationResponse
        {
            ApplicationName = name.EndsWith(".AppHost", StringComparison.Ordinal) ? name[..^".AppHost".Length] : name,
            ApplicationVersion = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "",
        });
    }

    public override async Task WatchResources(V1.WatchResourcesRequest request, IServerStreamWriter<V1.WatchResourcesUpdate> responseStream,
        ServerCallContext context)
    {
        using var call = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, feed.Ended);
        var (initial, changes, subscription) = feed.Watch();
        using (subscription)
        {
            var data = new V1.InitialResourceData();
            data.Resources.AddRange(initial);
            await responseStream.WriteAsync(new V1.WatchResourcesUpdate { InitialData = data }, call.Token);
            try
            {
                await foreach (var batch in changes.ReadAllAsync(call.Token))
                {
                    await responseStream.WriteAsync(new V1.WatchResourcesUpdate { Changes = batch }, call.Token);
                }
            }
            catch (WatcherFellBehindException ex)
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted, ex.Message));
            }
            catch (OperationCanceledException) when (feed.Ended.IsCancellationRequested)
            {
                // The AppHost is stopping: the stream ends normally.
            }
        }
    }

    public override async Task WatchResourceConsoleLogs(V1.WatchResourceConsoleLogsRequest request,
        IServerStreamWriter<V1.WatchResourceConsoleLogsUpdate> responseStream, ServerCallContext context)
    {
        if (!feed.Has(request.ResourceName))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"There is no resource named '{request.ResourceName}'."));
        }

        using var call = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, feed.Ended);
        // Never blocks the process's output: a watcher that falls behind loses its oldest undelivered lines, and the next
        // line it gets says how many (skipped_before), from the gap in the line numbers.
        var lines = Channel.CreateBounded<LogLine>(new BoundedChannelOptions(ConsoleBacklog)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.DropOldest,
        });
        var (kept, subscription) = app.Context.LogFor(request.ResourceName).Follow(line => lines.Writer.TryWrite(line));
        using (subscription)
        {
            long next = 1;
            try
            {
                await SendAsync(kept);
                if (request.SuppressFollow)
                {
                    return;
                }

                var batch = new List<LogLine>();
                while (await lines.Reader.WaitToReadAsync(call.Token))
                {
                    batch.Clear();
                    while (batch.Count < ConsoleBacklog && lines.Reader.TryRead(out var line))
                    {
                        batch.Add(line);
                    }

                    await SendAsync(batch);
                }
            }
            catch (OperationCanceledException) when (feed.Ended.IsCancellationRequested)
            {
                // The AppHost is stopping: the stream ends normally.
            }

            async Task SendAsync(IReadOnlyList<LogLine> toSend)
            {
                var update = new V1.WatchResourceConsoleLogsUpdate();
                var characters = 0;
                foreach (var line in toSend)
                {
                    var text = line.Text.Length > MaxUpdateCharacters ? line.Text[..MaxUpdateCharacters] : line.Text;
                    if (update.LogLines.Count > 0 && characters + text.Length > MaxUpdateCharacters)
                    {
                        await responseStream.WriteAsync(update, call.Token);
                        update = new V1.WatchResourceConsoleLogsUpdate();
                        characters = 0;
                    }

                    update.LogLines.Add(new V1.ConsoleLogLine
                    {
                        Text = text,
                        IsStdErr = line.IsError,
                        LineNumber = line.Number,
                        SkippedBefore = Math.Max(0, line.Number - next),
                    });
                    characters += text.Length;
                    next = line.Number + 1;
                }

                if (update.LogLines.Count > 0)
                {
                    await responseStream.WriteAsync(update, call.Token);
                }
            }
        }
    }

    public override Task<V1.ResourceCommandResponse> ExecuteResourceCommand(V1.ResourceCommandRequest request, ServerCallContext context) =>
        ResourceCommands.ExecuteAsync(app, request);
}
