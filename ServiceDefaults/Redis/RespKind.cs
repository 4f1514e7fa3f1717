using System.Diagnostics.CodeAnalysis;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>The RESP2/RESP3 frame types Kiln understands.</summary>
public enum RespKind
{
    SimpleString,
    Error,
    [SuppressMessage("Naming", "CA1720", Justification = "Named after the RESP type.")]
    Integer,
    BulkString,
    Array,
    Null,
    Boolean,
    [SuppressMessage("Naming", "CA1720", Justification = "Named after the RESP type.")]
    Double,
    BigNumber,
    Map,
    Set,
    Push,
}
