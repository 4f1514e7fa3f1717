using Kiln.Api.Extensions;

namespace Kiln.Tests.Api;

public sealed class CorsOriginsTests
{
    [Fact]
    public void Configured_addresses_become_origins_as_browsers_send_them() =>
        Assert.Equal(
            ["http://localhost:5123", "https://kiln.example", "http://127.0.0.1"], // a default port is not part of an origin
            CorsExtensions.Origins(["http://localhost:5123/", " HTTPS://Kiln.Example/ui ", "http://127.0.0.1:80", ""]));

    [Theory]
    [InlineData("localhost:5123")]
    [InlineData("ftp://kiln.example")]
    [InlineData("*")]
    public void A_value_that_is_not_an_http_origin_stops_the_api_naming_it(string configured) =>
        Assert.Contains($"'{configured}'", Assert.Throws<InvalidOperationException>(() => CorsExtensions.Origins([configured])).Message,
            StringComparison.Ordinal);
}
