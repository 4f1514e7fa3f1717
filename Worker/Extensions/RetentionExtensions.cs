using Kiln.Worker.Retention;
using Microsoft.Extensions.Options;

namespace Kiln.Worker.Extensions;

internal static class RetentionExtensions
{
    /// <summary>The retention job, with its settings from <c>Kiln:Retention</c>, refused at start when they make no sense.</summary>
    public static void AddRetention(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RetentionOptions>, RetentionOptionsValidation>();
        builder.Services.AddHostedService<RetentionJob>();
    }
}
