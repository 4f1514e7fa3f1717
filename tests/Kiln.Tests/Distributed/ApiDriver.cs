using System.Net.Http.Json;
using System.Text.Json;
using System.Net;
using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;

namespace Kiln.Tests.Distributed;

/// <summary>Calls the running Api over real HTTP with the keys the AppHost generated.</summary>
internal sealed class ApiDriver(DistributedApplication app) : IDisposable
{
    private readonly HttpClient _http = app.CreateHttpClient("api");

    public Uri BaseAddress => _http.BaseAddress!;

    /// <summary>
    /// Asserts a problem-details answer: the status, a title containing <paramref name="titleContains"/>, the trace id, the
    /// security headers and, when given, a detail containing <paramref name="detailContains"/>.
    /// </summary>
    public static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string titleContains, string? detailContains = null)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(body).RootElement;
            Assert.Contains(titleContains, problem.GetProperty("title").GetString(), StringComparison.OrdinalIgnoreCase);
            Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("traceId").GetString()));
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            if (detailContains is not null)
            {
                Assert.Contains(detailContains, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            }
        }
    }

    public string AdminKey => app.Secrets.AdminApiKey;
    public string IngestKey => app.Secrets.IngestApiKey;
    public string ReadKey => app.Secrets.ReadApiKey;

    /// <summary>Every Api replica's base address; requests without one go to the first.</summary>
    public IReadOnlyList<Uri> Replicas => app.Resource<ProjectResource>("api").Urls;

    public const double SensorRuleHigh = 1450;
    public const double SensorRuleHysteresis = 5;

    public Task<HttpResponseMessage> PutSensorAsync(string id, string site) =>
        SendAsync(HttpMethod.Put, $"/api/v1/sensors/{id}", AdminKey,
            new { site, kind = "temperature", unit = "C", rule = new { low = (double?)null, high = SensorRuleHigh, hysteresis = SensorRuleHysteresis } });

    /// <summary>
    /// Posts as a device does: a 429 (its key past its rate limit, which a test posting in a tight loop can reach) is
    /// sent again after its Retry-After, for up to <see cref="ThrottledFor"/>; every other answer is the caller's.
    /// </summary>
    public async Task<HttpResponseMessage> PostReadingsAsync(object readings, string? key = null)
    {
        var throttled = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var response = await SendAsync(HttpMethod.Post, "/api/v1/readings", key ?? IngestKey, new { readings });
            if (response.StatusCode != HttpStatusCode.TooManyRequests || throttled.Elapsed > ThrottledFor)
            {
                return response;
            }

            var retryAfter = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
            response.Dispose();
            await Task.Delay(retryAfter);
        }
    }

    private static readonly TimeSpan ThrottledFor = TimeSpan.FromSeconds(30);

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? key, object? body = null, string? rawJson = null,
        IEnumerable<(string Name, string Value)>? headers = null, Uri? replica = null)
    {
        using var request = new HttpRequestMessage(method, replica is null ? new Uri(path, UriKind.Relative) : new Uri(replica, path));
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.Add(name, value);
        }

        if (rawJson is not null)
        {
            request.Content = new StringContent(rawJson, System.Text.Encoding.UTF8, "application/json");
        }
        else if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        return await _http.SendAsync(request);
    }

    /// <summary>Sends a request the caller built (any content, any headers); an answer that does not come within <paramref name="within"/> fails.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, TimeSpan within)
    {
        using var deadline = new CancellationTokenSource(within);
        try
        {
            return await _http.SendAsync(request, deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new TimeoutException($"{request.Method} {request.RequestUri} was not answered within {within.TotalSeconds:0} s");
        }
    }

    /// <summary>A key created through the Api with the admin key, as an operator gives one to a gateway.</summary>
    public async Task<CreatedKey> CreateKeyAsync(string name, string[] scopes, string? site = null)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/v1/keys", AdminKey, new { name, scopes, site });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /api/v1/keys answered {(int)response.StatusCode}: {body}");
        var key = JsonDocument.Parse(body).RootElement;
        return new CreatedKey(key.GetProperty("id").GetGuid(), key.GetProperty("key").GetString()!);
    }

    public async Task<JsonElement> GetAsync(string path)
    {
        using var response = await SendAsync(HttpMethod.Get, path, ReadKey);
        Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Every stored reading of a sensor, following the cursor page by page.</summary>
    public async Task<List<(DateTimeOffset Timestamp, double Value)>> ReadAllAsync(string sensorId, int pageSize = 300)
    {
        var all = new List<(DateTimeOffset, double)>();
        string? cursor = null;
        do
        {
            var page = await GetAsync($"/api/v1/sensors/{sensorId}/readings?limit={pageSize}" + (cursor is null ? "" : $"&cursor={cursor}"));
            all.AddRange(page.GetProperty("items").EnumerateArray()
                .Select(i => (i.GetProperty("timestamp").GetDateTimeOffset(), i.GetProperty("value").GetDouble())));
            cursor = page.GetProperty("next").GetString();
        }
        while (cursor is not null);
        return all;
    }

    /// <summary>Every sensor the key may list (the read key: all of them), following the cursor page by page; <paramref name="query"/> is e.g. <c>site=kiln1&amp;limit=5</c>.</summary>
    public async Task<List<JsonElement>> ListSensorsAsync(string query = "", string? key = null)
    {
        var all = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var path = "/api/v1/sensors?" + query + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            using var response = await SendAsync(HttpMethod.Get, path, key ?? ReadKey);
            Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            var page = await response.Content.ReadFromJsonAsync<JsonElement>();
            all.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.GetProperty("next").GetString();
        }
        while (cursor is not null);
        return all;
    }

    /// <summary>Readings for the last <paramref name="count"/> seconds, one per second, newest a second ago.</summary>
    public static object[] Readings(string sensorId, int count, Func<int, double> value)
    {
        var newest = DateTimeOffset.UtcNow.AddSeconds(-1);
        return [.. Enumerable.Range(0, count).Select(i => new { sensorId, timestamp = newest.AddSeconds(i - count + 1), value = value(i) })];
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>A key's id and its secret, which only the answer that created it carries.</summary>
internal sealed record CreatedKey(Guid Id, string Secret);

