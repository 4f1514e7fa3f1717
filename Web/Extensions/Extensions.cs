using Kiln.Shared;
using Kiln.Web.Alerts;
using Kiln.Web.Api;
using Kiln.Web.Live;
using Kiln.Web.Overview;
using Kiln.Web.SignIn;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kiln.Web.Extensions;

internal static class Extensions
{
    public static void AddWebServices(this IHostApplicationBuilder builder)
    {
        builder.AddKilnApiClient();
        builder.AddRedisClient(Topology.Resources.Cache);
        // Without Redis the pages still render (latest values from the Api) and only /live pauses: Degraded, not Unhealthy.
        builder.Services.Configure<HealthCheckServiceOptions>(health =>
            health.Registrations.Single(r => r.Name == Topology.Resources.Cache).FailureStatus = HealthStatus.Degraded);
        builder.Services.TryAddSingletonTimeProvider();
        builder.Services.AddSingleton<LoginThrottle>();
        builder.Services.AddSingleton<LiveFeed>();
        builder.Services.AddHostedService(services => services.GetRequiredService<LiveFeed>());
        builder.Services.AddScoped<FleetOverview>();

        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(options =>
        {
            options.LoginPath = "/login";
            options.Cookie.Name = "kiln.operator";
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.ExpireTimeSpan = TimeSpan.FromHours(12);
            options.SlidingExpiration = true;
            // A script's /live gets a 401, not a redirect to an HTML page it cannot use.
            options.Events.OnRedirectToLogin = context =>
            {
                if (context.Request.Path.StartsWithSegments("/live"))
                {
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                }
                else
                {
                    context.Response.Redirect(context.RedirectUri);
                }

                return Task.CompletedTask;
            };
        });
        builder.Services.AddAuthorization();
        builder.Services.AddRazorComponents();
    }

    public static void MapWebEndpoints(this WebApplication app)
    {
        app.MapSignIn();
        app.MapAlertActions();
        app.MapLive();
    }

    private static void TryAddSingletonTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(s => s.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }
}
