"""suijian on Apache Spark (issue 17): the same partition functions, applied per partition by PySpark.

Optional: `pip install suijian[spark]`. Nothing outside this package imports pyspark.
"""
