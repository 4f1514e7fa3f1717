using StackExchange.Redis;

namespace Kiln.Tests.Redis;

/// <summary>The cache the AppHost starts requires its password; a client without it gets nothing.</summary>
public class RedisAuthenticationTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    [Theory]
    [InlineData(null)]
    [InlineData("definitely-not-the-password")]
    public async Task A_client_without_the_password_is_refused_and_the_error_does_not_echo_it(string? password)
    {
        var error = await Assert.ThrowsAsync<RedisConnectionException>(() => redis.ConnectAsync(o =>
        {
            o.Password = password;
            o.AbortOnConnectFail = true;
        }));

        Assert.Equal(ConnectionFailureType.AuthenticationFailure, error.FailureType);
        Assert.Contains(password is null ? "NOAUTH" : "WRONGPASS", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(password ?? redis.Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_the_password_commands_are_answered()
    {
        await using var client = await redis.ConnectAsync(o => o.AbortOnConnectFail = true);

        Assert.True(await client.GetDatabase().PingAsync() > TimeSpan.Zero);
    }
}
