using Kiln.Api.Keys;

namespace Kiln.Tests.Api;

public sealed class NewApiKeyTests
{
    [Theory]
    [InlineData("gateway-7", new[] { "ingest" }, "kiln1")]
    [InlineData("dashboard", new[] { "read" }, null)]
    [InlineData("operator", new[] { "admin", "read", "ingest" }, null)]
    [InlineData("plant-2 reader", new[] { "read", "ingest" }, "mill_2-b")]
    public void A_named_key_with_known_scopes_and_a_site_id_may_be_created(string name, string[] scopes, string? site) =>
        Assert.Null(new NewApiKey(name, scopes, site).Validate());

    [Theory]
    [InlineData(null, new[] { "ingest" }, null, "name is required")]
    [InlineData("  ", new[] { "ingest" }, null, "name is required")]
    [InlineData("gw\u0007", new[] { "ingest" }, null, "control characters")]
    [InlineData("gw", new string[0], null, "scopes is required")]
    [InlineData("gw", new[] { "write" }, null, "unknown scope 'write'")]
    [InlineData("gw", new[] { "Ingest" }, null, "unknown scope 'Ingest'")]
    [InlineData("gw", new[] { "ingest" }, "Kiln1", "site must be a site id")]
    [InlineData("gw", new[] { "ingest" }, "kiln1.burner", "site must be a site id")]
    [InlineData("gw", new[] { "ingest" }, "", "site must be a site id")]
    [InlineData("gw", new[] { "admin" }, "kiln1", "admin key cannot be bound to a site")]
    public void A_key_that_cannot_work_is_refused_with_its_reason(string? name, string[] scopes, string? site, string reason) =>
        Assert.Contains(reason, new NewApiKey(name, scopes, site).Validate(), StringComparison.Ordinal);

    [Fact]
    public void Missing_scopes_a_null_scope_and_an_overlong_name_are_refused()
    {
        Assert.Contains("scopes is required", new NewApiKey("gw", null, null).Validate(), StringComparison.Ordinal);
        Assert.Contains("unknown scope null", new NewApiKey("gw", ["ingest", null], null).Validate(), StringComparison.Ordinal);
        Assert.Contains("at most 100", new NewApiKey(new string('k', 101), ["read"], null).Validate(), StringComparison.Ordinal);
        Assert.Contains("site must be", new NewApiKey("gw", ["read"], new string('k', 65)).Validate(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_scope_named_twice_is_stored_once() =>
        Assert.Equal(["ingest", "read"], new NewApiKey("gw", ["ingest", "read", "ingest"], null).DistinctScopes);
}
