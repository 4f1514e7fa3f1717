using Kiln.AppHost.Health;
using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using V1 = Kiln.ResourceService.V1;

namespace Kiln.AppHost.ResourceService;

/// <summary>
/// The commands a dashboard may run on a resource, named as Aspire's (<c>KnownResourceCommands</c>): start, stop and
/// restart, through the AppHost's own <see cref="DistributedApplication.StopResourceAsync"/> and
/// <see cref="DistributedApplication.StartResourceAsync"/>. A replica's command acts on its whole project.
/// </summary>
internal static class ResourceCommands
{
    public const string Start = "start";
    public const string Stop = "stop";
    public const string Restart = "restart";

    public static async Task<V1.ResourceCommandResponse> ExecuteAsync(DistributedApplication app, V1.ResourceCommandRequest request)
    {
        var resource = app.Resources.FirstOrDefault(r => ResourceSnapshots.NamesOf(r).Contains(request.ResourceName, StringComparer.Ordinal));
        if (resource is null)
        {
            return Failed($"There is no resource named '{request.ResourceName}'.");
        }

        if (!resource.CanStopAndStart)
        {
            return Failed($"{resource.Name} has no process of its own; it runs while its server runs.");
        }

        // A start waits until the resource is healthy; a caller that goes away must not leave it half started.
        var stopping = app.Context.Stopping;
        try
        {
            switch (request.CommandName)
            {
                case Stop:
                    await app.StopResourceAsync(resource.Name);
                    return Succeeded($"{Scope(resource)} stopped.");
                case Start:
                    await app.StartResourceAsync(resource.Name, stopping);
                    return Succeeded($"{Scope(resource)} started and healthy.");
                case Restart:
                    await app.StopResourceAsync(resource.Name);
                    await app.StartResourceAsync(resource.Name, stopping);
                    return Succeeded($"{Scope(resource)} restarted and healthy.");
                default:
                    return Failed($"Unknown command '{request.CommandName}'; a resource has {Start}, {Stop} and {Restart}.");
            }
        }
        catch (InvalidOperationException ex)
        {
            // The resource's state does not allow it ("web is Exited; only a running resource can be stopped.").
            return Failed(ex.Message);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException && stopping.IsCancellationRequested)
        {
            return new V1.ResourceCommandResponse { Kind = V1.ResourceCommandResponseKind.Cancelled, Message = "The AppHost is stopping." };
        }
        catch (Exception ex) when (ex is ResourceFailedException or Provisioning.ProvisioningException)
        {
            // A start that failed: the message names the resource and the cause (its output is in its console log).
            return Failed(ex.Message);
        }
    }

    private static string Scope(Resource resource) =>
        resource is ProjectResource { Replicas: > 1 } project ? $"{project.Name} (all {project.Replicas} replicas)" : resource.Name;

    private static V1.ResourceCommandResponse Succeeded(string message) =>
        new() { Kind = V1.ResourceCommandResponseKind.Succeeded, Message = message };

    private static V1.ResourceCommandResponse Failed(string message) =>
        new() { Kind = V1.ResourceCommandResponseKind.Failed, Message = message };
}
