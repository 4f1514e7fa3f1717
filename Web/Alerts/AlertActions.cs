using Kiln.Web.Api;
using Kiln.Web.SignIn;

namespace Kiln.Web.Alerts;

internal static class AlertActions
{
    /// <summary>The acknowledge button's form post: acknowledged through the Api with the Web's key, then back to <c>/alerts</c>.</summary>
    public static IEndpointRouteBuilder MapAlertActions(this IEndpointRouteBuilder app)
    {
        app.MapPost("/alerts/{id:long}/acknowledge", async (long id, KilnApiClient api, HttpContext context) =>
        {
            try
            {
                using var deadline = KilnApiClientExtensions.PageDeadline();
                var done = await api.AcknowledgeAsync(id, context.User.Identity?.Name ?? SignInEndpoints.OperatorName, deadline.Token);
                return Results.Redirect(done ? $"/alerts?acknowledged={id}" : $"/alerts?refused={id}");
            }
            catch (Exception ex) when (ex.IsApiUnreachable())
            {
                return Results.Redirect($"/alerts?unreachable={id}");
            }
        }).RequireAuthorization().AddEndpointFilter<AntiforgeryFilter>();
        return app;
    }
}
