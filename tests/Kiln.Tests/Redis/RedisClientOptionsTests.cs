using Kiln.ServiceDefaults.Redis;

namespace Kiln.Tests.Redis;

public class RedisClientOptionsTests
{
    [Fact]
    public void Parses_an_aspire_connection_string()
    {
        var options = RedisClientOptions.Parse("cache.internal:6380,password=s3cret=with=equals,ssl=true,abortConnect=false,connectTimeout=2500,syncTimeout=750,name=kiln-api,defaultDatabase=2");

        Assert.Equal("cache.internal", options.Host);
        Assert.Equal(6380, options.Port);
        Assert.Equal("s3cret=with=equals", options.Password);
        Assert.True(options.Ssl);
        Assert.False(options.AbortConnect);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(750), options.CommandTimeout);
        Assert.Equal("kiln-api", options.ClientName);
        Assert.Equal(2, options.DefaultDatabase);
    }

    [Fact]
    public void Defaults_apply_to_a_bare_host_and_unknown_keys_are_ignored()
    {
        var options = RedisClientOptions.Parse("localhost, allowAdmin=true ,keepAlive=60");

        Assert.Equal("localhost", options.Host);
        Assert.Equal(6379, options.Port);
        Assert.Null(options.Password);
        Assert.False(options.Ssl);
        Assert.Equal(TimeSpan.FromSeconds(5), options.CommandTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ConnectTimeout);
    }

    [Fact]
    public void Parses_ipv6_endpoints()
    {
        var options = RedisClientOptions.Parse("[::1]:7000");

        Assert.Equal("::1", options.Host);
        Assert.Equal(7000, options.Port);
        Assert.Equal("[::1]:7000", options.Endpoint);
    }

    [Theory]
    [InlineData("localhost:notaport", "'localhost:notaport'")]
    [InlineData("localhost:70000", "invalid port '70000'")]
    [InlineData("localhost,ssl=maybe", "'ssl'")]
    [InlineData("localhost,connectTimeout=-1", "'connectTimeout'")]
    [InlineData("password=x", "no endpoint")]
    [InlineData(":6379", "no host")]
    [InlineData("a:1,b:2", "part 2")]
    public void Malformed_parts_are_named_in_a_format_exception(string connectionString, string named)
    {
        var error = Assert.Throws<FormatException>(() => RedisClientOptions.Parse(connectionString));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_password_containing_a_comma_is_never_echoed_in_the_error()
    {
        var error = Assert.Throws<FormatException>(() => RedisClientOptions.Parse("localhost:6379,password=abc,tailOfSecret"));

        Assert.DoesNotContain("tailOfSecret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_never_includes_the_password()
    {
        var options = RedisClientOptions.Parse("localhost:6379,password=hunter2-very-secret,user=kiln");

        var text = options.ToString();

        Assert.DoesNotContain("hunter2-very-secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("password", text, StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith("localhost:6379,user=kiln", text, StringComparison.Ordinal);
    }
}
