using System.Security.Claims;
using Kiln.Api.Security;

namespace Kiln.Tests.Api;

public sealed class SiteAccessTests
{
    private static ClaimsPrincipal Key(string? site) =>
        new(new ClaimsIdentity(site is null ? [] : [new Claim(ApiKeyScopes.SiteClaim, site)], "ApiKey"));

    [Fact]
    public void A_key_without_a_site_may_use_every_site()
    {
        Assert.Null(SiteAccess.Refusal(Key(null), "kiln1"));
        Assert.Null(SiteAccess.Check(Key(null), "mill2"));
    }

    [Fact]
    public void A_site_bound_key_may_use_its_own_site_only()
    {
        Assert.Null(SiteAccess.Refusal(Key("kiln1"), "kiln1"));
        Assert.Equal("This key is bound to site 'kiln1'; 'kiln10' is another site.", SiteAccess.Refusal(Key("kiln1"), "kiln10"));
        Assert.Equal(403, SiteAccess.Check(Key("kiln1"), "mill2")?.StatusCode);
    }
}
