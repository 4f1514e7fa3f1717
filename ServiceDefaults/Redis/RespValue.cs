using System.Globalization;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// One parsed RESP frame. Text-bearing kinds (simple and bulk strings, errors, big numbers) carry
/// <see cref="Text"/>; aggregates (array, set, push, map) carry <see cref="Items"/>, a map as
/// alternating keys and values so RESP2 and RESP3 replies read the same way.
/// </summary>
public sealed class RespValue
{
    public static readonly RespValue Null = new(RespKind.Null);
    public static readonly RespValue True = new(RespKind.Boolean) { IntegerValue = 1 };
    public static readonly RespValue False = new(RespKind.Boolean) { IntegerValue = 0 };

    private RespValue(RespKind kind) => Kind = kind;

    public RespKind Kind { get; }

    public string? Text { get; private init; }

    public long IntegerValue { get; private init; }

    public double DoubleValue { get; private init; }

    public IReadOnlyList<RespValue> Items { get; private init; } = [];

    public bool IsNull => Kind == RespKind.Null;

    public bool IsError => Kind == RespKind.Error;

    public bool BooleanValue => Kind == RespKind.Boolean ? IntegerValue != 0 : throw NotA(RespKind.Boolean);

    public static RespValue SimpleString(string text) => new(RespKind.SimpleString) { Text = text };

    public static RespValue Error(string message) => new(RespKind.Error) { Text = message };

    public static RespValue FromInteger(long value) => new(RespKind.Integer) { IntegerValue = value };

    public static RespValue BulkString(string text) => new(RespKind.BulkString) { Text = text };

    public static RespValue FromDouble(double value) => new(RespKind.Double) { DoubleValue = value };

    public static RespValue BigNumber(string digits) => new(RespKind.BigNumber) { Text = digits };

    public static RespValue Array(IReadOnlyList<RespValue> items) => Aggregate(RespKind.Array, items);

    public static RespValue Set(IReadOnlyList<RespValue> items) => Aggregate(RespKind.Set, items);

    public static RespValue Push(IReadOnlyList<RespValue> items) => Aggregate(RespKind.Push, items);

    /// <summary>A map, flattened as key, value, key, value…</summary>
    public static RespValue Map(IReadOnlyList<RespValue> keysAndValues)
    {
        if (keysAndValues.Count % 2 != 0)
        {
            throw new ArgumentException("A map needs an even number of items (key, value pairs).", nameof(keysAndValues));
        }

        return Aggregate(RespKind.Map, keysAndValues);
    }

    /// <summary>The reply as a string: text kinds as-is, numbers formatted invariantly, null as null.</summary>
    public string? AsString() => Kind switch
    {
        RespKind.SimpleString or RespKind.BulkString or RespKind.BigNumber or RespKind.Error => Text,
        RespKind.Integer => IntegerValue.ToString(CultureInfo.InvariantCulture),
        RespKind.Double => DoubleValue.ToString("R", CultureInfo.InvariantCulture),
        RespKind.Boolean => IntegerValue != 0 ? "1" : "0",
        RespKind.Null => null,
        _ => throw NotA(RespKind.BulkString),
    };

    /// <summary>The reply as an integer; bulk strings holding digits (as Lua scripts often return) are parsed.</summary>
    public long AsInteger() => Kind switch
    {
        RespKind.Integer or RespKind.Boolean => IntegerValue,
        RespKind.SimpleString or RespKind.BulkString or RespKind.BigNumber
            when long.TryParse(Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => throw NotA(RespKind.Integer),
    };

    public override string ToString() => Kind switch
    {
        RespKind.Null => "(nil)",
        RespKind.Array or RespKind.Set or RespKind.Push or RespKind.Map => $"{Kind}[{Items.Count}]",
        _ => $"{Kind}: {AsString()}",
    };

    private static RespValue Aggregate(RespKind kind, IReadOnlyList<RespValue> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return new RespValue(kind) { Items = items };
    }

    private InvalidOperationException NotA(RespKind expected) =>
        new($"The reply is {Kind}, not {expected}.");
}
