"""Adapters of the guard to agent frameworks. Each module imports its framework, so import
only the one you use: ``aecl.adapters.langchain``, ``aecl.adapters.openai_agents``,
``aecl.adapters.crewai``, ``aecl.adapters.autogen``.
"""
