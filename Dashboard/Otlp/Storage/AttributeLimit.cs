using Google.Protobuf.Collections;
using Kiln.Dashboard.Otlp.Proto.Common;

namespace Kiln.Dashboard.Otlp.Storage;

/// <summary>Keeps the first <c>max</c> attributes of an item, as the Aspire dashboard does, and counts the rest as dropped.</summary>
internal static class AttributeLimit
{
    /// <returns>How many attributes were removed, to add to the item's <c>dropped_attributes_count</c>.</returns>
    public static uint Trim(RepeatedField<KeyValue> attributes, int max)
    {
        var excess = attributes.Count - max;
        if (excess <= 0)
        {
            return 0;
        }

        for (var i = attributes.Count - 1; i >= max; i--)
        {
            attributes.RemoveAt(i);
        }

        return (uint)excess;
    }
}
